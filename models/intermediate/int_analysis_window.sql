{#
    One row: the RFM as-of date (SPEC 7) and the span of the kept lines. The var as_of_date (YYYY-MM-DD) when
    set, else the date of the latest kept invoice_date plus one day. Lines with invoice_date < as_of_date are
    in the window. The one place the run's as-of date is decided: every model and the ML step take it from
    here (through int_history_calendar and the mart history_calendar).
#}
{%- set as_of_var = var('as_of_date', none) -%}
{%- if as_of_var and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of_var | string) -%}
    {{ exceptions.raise_compiler_error("var as_of_date must be YYYY-MM-DD, got: " ~ as_of_var) }}
{%- endif %}

with

kept_lines as (
    select invoice_date
    from {{ ref('stg_online_retail__transaction_lines') }}
    where row_fate = 'kept'
),

final as (
    select
        {% if as_of_var -%}
            to_date('{{ as_of_var }}') as as_of_date,
            true as is_as_of_date_from_var,
        {%- else -%}
            date_add(to_date(max(invoice_date)), 1) as as_of_date,
            false as is_as_of_date_from_var,
        {%- endif %}
        min(invoice_date) as first_invoice_date,
        max(invoice_date) as latest_invoice_date
    from kept_lines
)

select * from final
