{#
    One row per segment: every RFM segment (segment_kind = 'rfm_segment') and every cluster
    (segment_kind = 'cluster', including 'Unclustered'). Customers, revenue (sum of monetary), their shares
    within the segment kind, average R/F/M values and scores, the expected value of the segment (SPEC 11:
    average P(alive), expected purchase days in 90 days, 12-month CLV), and the recommended action.
#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

actions as (
    select * from {{ ref('segment_actions') }}
),

customer_segments as (
    select
        'rfm_segment' as segment_kind,
        rfm_segment as segment,
        cast(null as int) as cluster_id,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        p_alive,
        expected_purchases_90d,
        clv_12m
    from customers

    union all

    select
        'cluster' as segment_kind,
        cluster_name as segment,
        cluster_id,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        p_alive,
        expected_purchases_90d,
        clv_12m
    from customers
    where cluster_name is not null
),

aggregated as (
    select
        segment_kind,
        segment,
        min(cluster_id) as cluster_id,
        count(*) as customers,
        sum(monetary) as revenue,
        round(avg(recency_days), 2) as avg_recency_days,
        round(avg(frequency), 2) as avg_frequency,
        cast(round(avg(monetary), 2) as decimal(18, 2)) as avg_monetary,
        round(avg(r_score), 2) as avg_r_score,
        round(avg(f_score), 2) as avg_f_score,
        round(avg(m_score), 2) as avg_m_score,
        round(avg(p_alive), 4) as avg_p_alive,
        round(sum(expected_purchases_90d), 2) as expected_purchases_90d,
        round(sum(clv_12m), 2) as clv_12m,
        round(avg(clv_12m), 2) as avg_clv_12m
    from customer_segments
    group by segment_kind, segment
),

final as (
    select
        -- ids
        aggregated.segment_kind,
        aggregated.segment,
        aggregated.cluster_id,

        -- text
        actions.recommended_action,

        -- numbers
        aggregated.customers,
        round(aggregated.customers / sum(aggregated.customers) over (partition by aggregated.segment_kind), 4)
            as customer_share,
        aggregated.revenue,
        cast(
            round(
                aggregated.revenue / nullif(sum(aggregated.revenue) over (partition by aggregated.segment_kind), 0),
                4
            )
            as double
        ) as revenue_share,
        aggregated.avg_recency_days,
        aggregated.avg_frequency,
        aggregated.avg_monetary,
        aggregated.avg_r_score,
        aggregated.avg_f_score,
        aggregated.avg_m_score,
        aggregated.avg_p_alive,
        aggregated.expected_purchases_90d,
        aggregated.clv_12m,
        aggregated.avg_clv_12m
    from aggregated
    left join actions
        on
            aggregated.segment_kind = actions.segment_kind
            {# Numbered cluster names ("Loyal 2") share the action of their base name. #}
            and regexp_replace(aggregated.segment, ' [0-9]+$', '') = actions.segment
)

select * from final
