{#
    One row per (summary date, customer, purchase day): SPEC 11's purchase days and their values at the two
    dates of the CLV step, the run's as-of date and the calibration date (as-of date - var clv_holdout_days).
    A date d sees the customer's merchandise purchase lines before d; a line's value is
    (quantity - cancelled units) x effective_unit_price, where its cancelled units are the units that
    cancellations dated before d absorbed from it, first-in first-out within its (customer, stock code):
    the key's matched units before d, less the key's units bought before the line, between 0 and its quantity.
    So a return nets against the purchase it undoes, and nothing after d leaks in.
#}
{%- set holdout_days = var('clv_holdout_days', 90) | int %}

with

analysis_window as (
    select as_of_date from {{ ref('int_analysis_window') }}
),

summary_dates as (
    select
        as_of_date as summary_date,
        'as_of' as summary_role
    from analysis_window

    union all

    select
        date_sub(as_of_date, {{ holdout_days }}) as summary_date,
        'calibration' as summary_role
    from analysis_window
),

scoped_lines as (
    select
        customer_id,
        stock_code,
        line_kind,
        invoice_date,
        quantity,
        effective_unit_price,
        matched_units,
        key_units_purchased_before
    from {{ ref('int_transaction_lines_matched') }}
    where is_in_matching_scope
),

key_matched_before_date as (
    select /*+ broadcast(summary_dates) */
        summary_dates.summary_date,
        scoped_lines.customer_id,
        scoped_lines.stock_code,
        sum(scoped_lines.matched_units) as matched_units
    from scoped_lines
    inner join summary_dates
        on scoped_lines.invoice_date < summary_dates.summary_date
    where scoped_lines.line_kind = 'cancellation'
    group by summary_dates.summary_date, scoped_lines.customer_id, scoped_lines.stock_code
),

purchase_lines_at_date as (
    select /*+ broadcast(summary_dates) */
        summary_dates.summary_date,
        summary_dates.summary_role,
        scoped_lines.customer_id,
        to_date(scoped_lines.invoice_date) as purchase_day,
        scoped_lines.quantity,
        scoped_lines.effective_unit_price,
        least(
            scoped_lines.quantity,
            greatest(
                cast(0 as bigint),
                coalesce(key_matched_before_date.matched_units, 0) - scoped_lines.key_units_purchased_before
            )
        ) as cancelled_units
    from scoped_lines
    inner join summary_dates
        on scoped_lines.invoice_date < summary_dates.summary_date
    left join key_matched_before_date
        on
            summary_dates.summary_date = key_matched_before_date.summary_date
            and scoped_lines.customer_id = key_matched_before_date.customer_id
            and scoped_lines.stock_code = key_matched_before_date.stock_code
    where scoped_lines.line_kind = 'purchase'
),

final as (
    select
        summary_date,
        summary_role,
        customer_id,
        purchase_day,
        sum(cast((quantity - cancelled_units) * effective_unit_price as decimal(38, 6))) as day_value
    from purchase_lines_at_date
    group by summary_date, summary_role, customer_id, purchase_day
)

select * from final
