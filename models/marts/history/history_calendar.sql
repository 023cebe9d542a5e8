{#
    One row per as-of date of the segment history (SPEC 10), with the number of customers at that date.
    The run's as-of date is the row with is_run_as_of_date: the ML step and the report take the date from
    here, not from a copy on every line.
#}
{{ config(tags=['ml_input']) }}

with

calendar as (
    select * from {{ ref('int_history_calendar') }}
),

customers_per_date as (
    select
        as_of_date,
        count(*) as customers
    from {{ ref('int_customer_rfm_history') }}
    group by as_of_date
),

final as (
    select
        calendar.as_of_date,
        calendar.previous_as_of_date,
        calendar.is_run_as_of_date,
        calendar.calendar_rule,
        coalesce(customers_per_date.customers, 0) as customers
    from calendar
    left join customers_per_date
        on calendar.as_of_date = customers_per_date.as_of_date
)

select * from final
