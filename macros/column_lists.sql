{#
    Explicit column lists reused by models that pass line-level columns through several CTEs
    (no `select *` in models that feed marts).
#}
{% macro priced_line_columns() -%}
    line_id,
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
