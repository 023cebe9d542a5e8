{#
    One row per (segment kind, segment, main country): customers and revenue of each RFM segment and each
    cluster by the customers' main country, with the country's share of the segment's customers.
#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

customer_segments as (
    select
        'rfm_segment' as segment_kind,
        rfm_segment as segment,
        main_country,
        monetary
    from customers

    union all

    select
        'cluster' as segment_kind,
        cluster_name as segment,
        main_country,
        monetary
    from customers
    where cluster_name is not null
),

aggregated as (
    select
        segment_kind,
        segment,
        coalesce(main_country, 'Unknown') as country,
        count(*) as customers,
        sum(monetary) as revenue
    from customer_segments
    group by segment_kind, segment, coalesce(main_country, 'Unknown')
),

final as (
    select
        segment_kind,
        segment,
        country,
        customers,
        revenue,
        round(customers / sum(customers) over (partition by segment_kind, segment), 4) as share_of_segment_customers
    from aggregated
)

select * from final
