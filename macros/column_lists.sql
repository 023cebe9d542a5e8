{#
    Explicit column lists reused by models that pass line-level columns through several CTEs
    (no `select *` in models that feed marts).
#}
{#- line_id is not in the list: models re-derive it with source_line_id() after their sorts. -#}
{% macro priced_line_columns() -%}
    invoice_no,
    stock_code,
    customer_id,
    description,
    country,
    line_kind,
    quantity,
    unit_price,
    effective_unit_price,
    price_imputation_status,
    is_merchandise,
    is_customer_imputed,
    is_price_imputed,
    is_in_window,
    invoice_date,
    as_of_date,
    _source_file,
    _source_line
{%- endmacro %}


{#-
    A line's lineage key, file:line. Derived from the two lineage columns wherever it is needed, so that
    line-level sorts (deduplication, cancellation matching) carry the two columns and not a third, wide copy.
-#}
{% macro source_line_id() -%}
    concat(_source_file, ':', cast(_source_line as string))
{%- endmacro %}
