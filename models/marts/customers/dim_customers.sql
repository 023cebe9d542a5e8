{#
    One row per RFM customer: the RFM columns and segment, the cluster and the lifetime-value predictions
    (SPEC 11) from the ml/ step, and the recommended actions. cluster_id and cluster_name are null until the ML step has run; afterwards a
    customer outside the clustered population (monetary <= 0, SPEC 9) is named 'Unclustered'.
#}
with

customers as (
    select * from {{ ref('customer_rfm') }}
),

clusters as (
    select * from {{ ref('stg_ml__customer_clusters') }}
),

predictions as (
    select * from {{ ref('stg_ml__customer_predictions') }}
),

ml_state as (
    select count(*) > 0 as has_clusters from clusters
),

actions as (
    select * from {{ ref('segment_actions') }}
),

final as (
    select
        -- ids
        customers.customer_id,
        clusters.cluster_id,
        clusters.cluster_run_id,

        -- text
        customers.rfm_cell,
        customers.rfm_segment,
        case
            when clusters.cluster_name is not null then clusters.cluster_name
            when ml_state.has_clusters then 'Unclustered'
        end as cluster_name,
        clusters.cluster_algorithm,
        rfm_actions.recommended_action as rfm_recommended_action,
        cluster_actions.recommended_action as cluster_recommended_action,
        customers.main_country,

        -- numbers
        customers.recency_days,
        customers.frequency,
        customers.monetary,
        customers.r_score,
        customers.f_score,
        customers.m_score,
        customers.tenure_days,
        customers.avg_order_value,
        customers.distinct_products,
        customers.purchased_units,
        customers.cancelled_units,
        customers.cancellation_rate,
        predictions.p_alive,
        predictions.expected_purchases_90d,
        predictions.expected_avg_value,
        predictions.clv_12m,

        -- dates and timestamps
        customers.as_of_date,
        customers.first_purchase_at,
        customers.last_purchase_at
    from customers
    cross join ml_state
    left join clusters
        on customers.customer_id = clusters.customer_id
    left join predictions
        on customers.customer_id = predictions.customer_id
    left join actions as rfm_actions
        on rfm_actions.segment_kind = 'rfm_segment' and customers.rfm_segment = rfm_actions.segment
    left join actions as cluster_actions
        on
            cluster_actions.segment_kind = 'cluster'
            {# Names repeated within one run are numbered ("Loyal 2"); the action belongs to the base name. #}
            and cluster_actions.segment = case
                when clusters.cluster_name is not null then regexp_replace(clusters.cluster_name, ' [0-9]+$', '')
                when ml_state.has_clusters then 'Unclustered'
            end
)

select * from final
