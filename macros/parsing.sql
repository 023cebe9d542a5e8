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

{#- InvoiceDate formats of SPEC 1, tried in order. Timestamps carry no zone (sessions run in UTC).
    The two ISO formats (yyyy-MM-dd HH:mm:ss, yyyy-MM-dd HH:mm) go through Spark's own timestamp cast, much
    cheaper than a pattern formatter (bench/results/HISTORY.md). The regex admits exactly those two shapes
    (the cast alone would also take a bare date, a T, fractions or a zone); the cast rejects what the
    formatter rejects (2011-02-29, 24:00, month 13): same result on 20,000 fuzzed strings, and the unit test
    invoice_date_formats_are_exact pins the edges. -#}
{% macro parse_invoice_date(column) -%}
    coalesce(
        case
            when {{ column }} rlike '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$'
                then try_cast({{ column }} as timestamp)
        end,
        try_to_timestamp({{ column }}, 'M/d/yyyy H:mm')
    )
{%- endmacro %}


{#- A customer id is text (SPEC 2). The numeric forms a spreadsheet export gives a whole number become that
    number's digits: 17850.0 and 1.785E4 are 17850. Any other text stays as it is (leading zeros included).
    A number that is not whole (12345.5) is no customer id: null here, and staging rejects the row
    (bad_customer_id). -#}
{% macro parse_customer_id(column) -%}
    case
        when {{ column }} is null then null
        when {{ column }} rlike '^[0-9]+[.]0*$' then regexp_extract({{ column }}, '^([0-9]+)', 1)
        when {{ column }} rlike '^[0-9]*[.]?[0-9]+[eE][+]?[0-9]+$'
            then
                case
                    when try_cast({{ column }} as decimal(38, 6)) = floor(try_cast({{ column }} as decimal(38, 6)))
                        then cast(cast(try_cast({{ column }} as decimal(38, 6)) as decimal(38, 0)) as string)
                end
        when {{ column }} rlike '^[0-9]*[.][0-9]+$' then null
        else {{ column }}
    end
{%- endmacro %}

{#- An invoice number or code written as a float by a spreadsheet or pandas (536365.0) is its digits. -#}
{% macro normalise_numeric_code(expression) -%}
    regexp_replace({{ expression }}, '^([0-9]+)[.]0+$', '$1')
{%- endmacro %}

{#- A data row that repeats the file's header (files concatenated with their headers): its first three
    columns are header names (var input_column_aliases, the names the ingest accepts). -#}
{% macro is_header_row(invoice_no, stock_code, quantity) -%}
    {%- set aliases = var('input_column_aliases') -%}
    {%- set parts = [] -%}
    {%- for column, raw in [('invoice_no', invoice_no), ('stock_code', stock_code), ('quantity', quantity)] -%}
        {%- set names = [] -%}
        {%- for alias, target in aliases.items() if target == column -%}
            {%- do names.append("'" ~ alias ~ "'") -%}
        {%- endfor -%}
        {%- do parts.append("coalesce(lower(regexp_replace(" ~ raw ~ ", '[ _]', '')) in (" ~ names | join(', ') ~ "), false)") -%}
    {%- endfor -%}
    ({{ parts | join(' and ') }})
{%- endmacro %}
