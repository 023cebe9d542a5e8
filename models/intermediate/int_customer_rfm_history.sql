{#
    One row per (calendar as-of date, customer): SPEC 7-8 at every date of int_history_calendar, in one
    pass over the line table instead of one pipeline run per date. A date d sees the lines with
    invoice_date < d; the customers of d have a merchandise purchase line before d. Because a cancellation
    only absorbs earlier purchases (SPEC 5) and the mode price looks at every date (SPEC 4), each line's
    revenue is the same whichever later date it is seen from, so the lines are aggregated once per
    (customer, interval between two calendar dates) and accumulated across intervals:
      recency_days = datediff(d, date(last purchase before d)); frequency = invoices whose first purchase
      line is before d; monetary = round(sum of line revenue before d, 2). Scores rank among the customers
      of d (SPEC 8, partitioned by date); the segment comes from the score cell.
    The run's as-of date is the last row of every customer, and marts.customer_rfm is that row.
#}
{{ config(materialized='table') }}
{%- set revenue_column = 'net_revenue_capped' if var('rfm_use_capped_values', false) else 'net_revenue' %}

with

calendar as (
    select
        as_of_date,
        coalesce(previous_as_of_date, date '0001-01-01') as interval_start
    from {{ ref('int_history_calendar') }}
),

cell_segments as (
    select * from {{ ref('int_rfm_cell_segments') }}
),

{# One row per (customer, invoice, timestamp): an invoice's lines normally share a timestamp, so this is
   nearly an invoice, and a calendar date never splits one of these rows. #}
invoice_events as (
    select
        customer_id,
        invoice_no,
        invoice_date,
        bool_or(line_kind = 'purchase') as has_purchase,
        sum({{ revenue_column }}) as revenue
    from {{ ref('int_transaction_lines_enriched') }}
    where is_in_matching_scope
    group by customer_id, invoice_no, invoice_date
),

first_purchase_events as (
    select
        *,
        has_purchase
        and invoice_date = min(case when has_purchase then invoice_date end) over (
            partition by customer_id, invoice_no
        ) as is_invoice_first_purchase
    from invoice_events
),

{# Each event falls in the interval [previous date, date) of exactly one calendar date, or after the run's
   as-of date (no row). The calendar is a handful of rows, broadcast to every event. #}
interval_events as (
    select /*+ broadcast(calendar) */
        first_purchase_events.*,
        calendar.as_of_date as interval_end
    from first_purchase_events
    inner join calendar
        on
            first_purchase_events.invoice_date >= calendar.interval_start
            and first_purchase_events.invoice_date < calendar.as_of_date
),

interval_totals as (
    select
        customer_id,
        interval_end,
        sum(revenue) as revenue,
        max(case when has_purchase then invoice_date end) as last_purchase_at,
        count_if(is_invoice_first_purchase) as new_invoices,
        bool_or(has_purchase) as has_purchase
    from interval_events
    group by customer_id, interval_end
),

first_intervals as (
    select
        customer_id,
        min(interval_end) as first_as_of_date
    from interval_totals
    where has_purchase
    group by customer_id
),

{# The customers of a date: every date from the first interval with a purchase on. A customer's
   cancellations before their first purchase match nothing (revenue 0), so starting there loses nothing. #}
customer_dates as (
    select /*+ broadcast(calendar) */
        first_intervals.customer_id,
        calendar.as_of_date
    from first_intervals
    inner join calendar
        on first_intervals.first_as_of_date <= calendar.as_of_date
),

accumulated as (
    select
        customer_dates.as_of_date,
        customer_dates.customer_id,
        max(interval_totals.last_purchase_at) over customer_so_far as last_purchase_at,
        sum(coalesce(interval_totals.new_invoices, 0)) over customer_so_far as frequency,
        sum(coalesce(interval_totals.revenue, 0)) over customer_so_far as revenue
    from customer_dates
    left join interval_totals
        on
            customer_dates.customer_id = interval_totals.customer_id
            and customer_dates.as_of_date = interval_totals.interval_end
    window customer_so_far as (
        partition by customer_dates.customer_id
        order by customer_dates.as_of_date
        rows between unbounded preceding and current row
    )
),

rfm as (
    select
        as_of_date,
        customer_id,
        datediff(as_of_date, to_date(last_purchase_at)) as recency_days,
        cast(frequency as int) as frequency,
        cast(round(revenue, 2) as decimal(18, 2)) as monetary,
        last_purchase_at
    from accumulated
),

scored as (
    select
        *,
        {{ rfm_score('recency_days', descending=true, partition_by='as_of_date') }} as r_score,
        {{ rfm_score('frequency', partition_by='as_of_date') }} as f_score,
        {{ rfm_score('monetary', partition_by='as_of_date') }} as m_score
    from rfm
),

final as (
    select
        -- ids
        scored.customer_id,

        -- text
        cell_segments.rfm_cell,
        cell_segments.rfm_segment,

        -- numbers
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,

        -- dates and timestamps
        scored.as_of_date,
        scored.last_purchase_at
    from scored
    inner join cell_segments
        on
            scored.r_score = cell_segments.r_score
            and scored.f_score = cell_segments.f_score
            and scored.m_score = cell_segments.m_score
)

select * from final
