{#
    One row per customer at the run's as-of date (SPEC 7-8): known customer_id with at least one merchandise
    purchase line in the analysis window. Recency, frequency, monetary, the 1..5 scores, the R/F/M cell and
    its named segment are the run's date of the history (int_customer_rfm_history: one implementation of
    SPEC 7-8 for every date), with the behavioural columns beside them. monetary uses outlier-capped values
    only when var rfm_use_capped_values is true.
#}
{{ config(tags=['ml_input']) }}

with

history_at_run_date as (
    select rfm_history.*
    from {{ ref('int_customer_rfm_history') }} as rfm_history
    inner join {{ ref('int_history_calendar') }} as calendar
        on rfm_history.as_of_date = calendar.as_of_date and calendar.is_run_as_of_date
),

scoped_lines as (
    select * from {{ ref('fct_order_lines') }}
    where is_in_matching_scope
),

purchases as (
    select
        customer_id,
        min(invoice_date) as first_purchase_at,
        -- size(collect_set()) = count(distinct) (both skip nulls) without Spark's expand of every line per
        -- distinct column; a customer's sets are small
        size(collect_set(stock_code)) as distinct_products,
        sum(quantity) as purchased_units
    from scoped_lines
    where line_kind = 'purchase'
    group by customer_id
),

cancellations as (
    select
        customer_id,
        size(collect_set(case when line_kind = 'cancellation' then invoice_no end)) as cancellation_invoices,
        sum(coalesce(matched_units, 0)) as cancelled_units
    from scoped_lines
    group by customer_id
),

country_counts as (
    select
        customer_id,
        country,
        row_number() over (partition by customer_id order by count(*) desc, country asc) as country_rank
    from scoped_lines
    where line_kind = 'purchase' and country is not null
    group by customer_id, country
),

final as (
    select
        -- ids
        rfm_history.customer_id,

        -- text
        rfm_history.rfm_cell,
        rfm_history.rfm_segment,
        country_counts.country as main_country,

        -- numbers
        rfm_history.recency_days,
        rfm_history.frequency,
        rfm_history.monetary,
        rfm_history.r_score,
        rfm_history.f_score,
        rfm_history.m_score,
        datediff(rfm_history.as_of_date, to_date(purchases.first_purchase_at)) as tenure_days,
        cast(round(rfm_history.monetary / rfm_history.frequency, 2) as decimal(18, 2)) as avg_order_value,
        purchases.distinct_products,
        purchases.purchased_units,
        cancellations.cancelled_units,
        round(
            cancellations.cancellation_invoices / (rfm_history.frequency + cancellations.cancellation_invoices), 4
        ) as cancellation_rate,

        -- dates and timestamps
        rfm_history.as_of_date,
        purchases.first_purchase_at,
        rfm_history.last_purchase_at
    from history_at_run_date as rfm_history
    inner join purchases
        on rfm_history.customer_id = purchases.customer_id
    inner join cancellations
        on rfm_history.customer_id = cancellations.customer_id
    left join country_counts
        on rfm_history.customer_id = country_counts.customer_id and country_counts.country_rank = 1
)

select * from final
