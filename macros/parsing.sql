{#
    Typing rules of SPEC 2, shared by staging and its unit tests. Each returns null when the text cannot be
    typed, in both ANSI modes (try_* functions and regex guards instead of casts that may throw).
#}

{#- A whole number: optional sign, digits, optionally ".0…" (so "3.0" is 3); null when not whole or too big. -#}
{% macro parse_whole_number(column) -%}
    case
        when {{ column }} rlike '^[+-]?[0-9]+([.]0+)?$'
            then try_cast(regexp_extract({{ column }}, '^([+-]?[0-9]+)', 1) as bigint)
    end
{%- endmacro %}

{#- A finite decimal or scientific literal; NaN and Infinity are not numbers here. -#}
{% macro parse_decimal_number(column) -%}
    case
        when {{ column }} rlike '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'
            then try_cast({{ column }} as double)
    end
{%- endmacro %}

{#- InvoiceDate formats of SPEC 1, tried in order. Timestamps carry no zone (sessions run in UTC). -#}
{% macro parse_invoice_date(column) -%}
    coalesce(
        try_to_timestamp({{ column }}, 'yyyy-MM-dd HH:mm:ss'),
        try_to_timestamp({{ column }}, 'yyyy-MM-dd HH:mm'),
        try_to_timestamp({{ column }}, 'M/d/yyyy H:mm')
    )
{%- endmacro %}
