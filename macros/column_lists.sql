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
    _source_file,
    _source_line
{%- endmacro %}


{#-
    A line's lineage key, `<file name>@<8 hex digits>:<line>`: the file's name without its folders (line ids
    are shown to BI users, and a machine's paths are nobody's business) and a CRC-32 of its full path, so
    that two files of one name in different folders still give distinct ids. `_source_file` keeps the full
    path for tracing. Derived from the two lineage columns wherever it is needed, so that line-level sorts
    (deduplication, cancellation matching) carry the two columns and not a third, wide copy.
-#}
{% macro source_line_id() -%}
    concat(
        regexp_extract(_source_file, '([^/]*)$', 1), '@', lpad(lower(hex(crc32(_source_file))), 8, '0'),
        ':', cast(_source_line as string)
    )
{%- endmacro %}
