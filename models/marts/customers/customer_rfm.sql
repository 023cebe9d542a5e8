{#
    One row per customer (SPEC 7-8): known customer_id with at least one merchandise purchase line in the
    analysis window. Recency, frequency and monetary, the 1..5 scores (rank-based, ties share a score), the
    R/F/M cell and its named segment, plus behavioural columns. monetary uses outlier-capped values only when
    var rfm_use_capped_values is true.
#}
{%- set revenue_column = 'net_revenue_capped' if var('rfm_use_capped_values', false) else 'net_revenue' %}

with

scoped_lines as (
    select * from {{ ref('fct_order_lines') }}
    where is_in_matching_scope
),

cell_segments as (
    select * from {{ ref('int_rfm_cell_segments') }}
),

purchases as (
    select
        customer_id,
        max(as_of_date) as as_of_date,
        min(invoice_date) as first_purchase_at,
        max(invoice_date) as last_purchase_at,
        -- size(collect_set()) = count(distinct) (both skip nulls) without Spark's expand of every line per
        -- distinct column; a customer's sets are small
        size(collect_set(invoice_no)) as frequency,
        size(collect_set(stock_code)) as distinct_products,
        sum(quantity) as purchased_units
    from scoped_lines
    where line_kind = 'purchase'
    group by customer_id
),

revenue as (
    select
        customer_id,
        cast(round(sum({{ revenue_column }}), 2) as decimal(18, 2)) as monetary,
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

rfm as (
    select
        purchases.customer_id,
        purchases.as_of_date,
        datediff(purchases.as_of_date, to_date(purchases.last_purchase_at)) as recency_days,
        purchases.frequency,
        revenue.monetary,
        purchases.first_purchase_at,
        purchases.last_purchase_at,
        datediff(purchases.as_of_date, to_date(purchases.first_purchase_at)) as tenure_days,
        cast(round(revenue.monetary / purchases.frequency, 2) as decimal(18, 2)) as avg_order_value,
        purchases.distinct_products,
        purchases.purchased_units,
        revenue.cancelled_units,
        country_counts.country as main_country,
        round(revenue.cancellation_invoices / (purchases.frequency + revenue.cancellation_invoices), 4)
            as cancellation_rate
    from purchases
    inner join revenue
        on purchases.customer_id = revenue.customer_id
    left join country_counts
        on purchases.customer_id = country_counts.customer_id and country_counts.country_rank = 1
),

scored as (
    select
        *,
        {{ rfm_score('recency_days', descending=true) }} as r_score,
        {{ rfm_score('frequency') }} as f_score,
        {{ rfm_score('monetary') }} as m_score
    from rfm
),

final as (
    select
        -- ids
        scored.customer_id,

        -- text
        cell_segments.rfm_cell,
        cell_segments.rfm_segment,
        scored.main_country,

        -- numbers
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        scored.tenure_days,
        scored.avg_order_value,
        scored.distinct_products,
        scored.purchased_units,
        scored.cancelled_units,
        scored.cancellation_rate,

        -- dates and timestamps
        scored.as_of_date,
        scored.first_purchase_at,
        scored.last_purchase_at
    from scored
    inner join cell_segments
        on
            scored.r_score = cell_segments.r_score
            and scored.f_score = cell_segments.f_score
            and scored.m_score = cell_segments.m_score
)

select * from final
