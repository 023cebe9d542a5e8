{#
    Explicit column lists reused by models that pass line-level columns through several CTEs
    (no `select *` in models that feed marts).
#}
{#- with_line_id=false leaves out line_id, for models that re-derive it with source_line_id() after a sort. -#}
{% macro priced_line_columns(with_line_id=true) -%}
    {% if with_line_id %}line_id,{% endif %}
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
