{#
    One row per (calendar as-of date, customer) (SPEC 10): the RFM figures, scores and segment of that date,
    and the cluster the run's own saved model assigns at that date (ml.customer_cluster_history: one model for
    every date, so a cluster id and name mean the same thing throughout). Customers with monetary <= 0 are
    'Unclustered'; cluster columns are null until the ML step has run.
#}

with

rfm_history as (
    select * from {{ ref('customer_rfm_history') }}
),

cluster_history as (
    select * from {{ ref('stg_ml__customer_cluster_history') }}
),

model_run as (
    select
        max(cluster_run_id) as cluster_run_id,
        count(*) > 0 as has_clusters
    from cluster_history
),

final as (
    select
        -- ids
        rfm_history.customer_id,
        cluster_history.cluster_id,
        model_run.cluster_run_id,

        -- text
        rfm_history.rfm_segment,
        case
            when cluster_history.cluster_name is not null then cluster_history.cluster_name
            when model_run.has_clusters then 'Unclustered'
        end as cluster_name,

        -- numbers
        rfm_history.recency_days,
        rfm_history.frequency,
        rfm_history.monetary,
        rfm_history.r_score,
        rfm_history.f_score,
        rfm_history.m_score,

        -- dates
        rfm_history.as_of_date
    from rfm_history
    cross join model_run
    left join cluster_history
        on
            rfm_history.as_of_date = cluster_history.as_of_date
            and rfm_history.customer_id = cluster_history.customer_id
)

select * from final
