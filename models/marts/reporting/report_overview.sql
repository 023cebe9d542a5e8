{#
    One row: the figures the report opens with, for the run's as-of date.
#}

with

calendar as (
    select
        as_of_date,
        customers
    from {{ ref('history_calendar') }}
    where is_run_as_of_date
),

revenue as (
    select
        count(*) as rfm_customers,
        sum(monetary) as total_monetary
    from {{ ref('customer_rfm') }}
),

fates as (
    select
        sum(row_count) as raw_rows,
        sum(case when metric = 'kept' then row_count else 0 end) as kept_rows
    from {{ ref('data_quality_summary') }}
    where section = 'row_fate'
),

final as (
    select
        calendar.as_of_date,
        revenue.rfm_customers as customers,
        revenue.total_monetary,
        fates.raw_rows,
        fates.kept_rows
    from calendar
    cross join revenue
    cross join fates
)

select * from final
