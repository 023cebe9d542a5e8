{#
    One row per (calendar as-of date, segment kind, segment): customers, their share of the date's customers
    of that kind, and their summed monetary. How each segment grows or shrinks over time.
#}

with

customer_segments as (
    select
        as_of_date,
        'rfm' as segment_kind,
        rfm_segment as segment,
        monetary
    from {{ ref('customer_segment_history') }}

    union all

    select
        as_of_date,
        'cluster' as segment_kind,
        cluster_name as segment,
        monetary
    from {{ ref('customer_segment_history') }}
    where cluster_name is not null
),

segment_totals as (
    select
        as_of_date,
        segment_kind,
        segment,
        count(*) as customers,
        sum(monetary) as monetary
    from customer_segments
    group by as_of_date, segment_kind, segment
),

final as (
    select
        -- dates
        as_of_date,

        -- text
        segment_kind,
        segment,

        -- numbers
        customers,
        round(customers / sum(customers) over (partition by as_of_date, segment_kind), 6) as customer_share,
        monetary
    from segment_totals
)

select * from final
