{#
    ml.cluster_centroids as the ml/ step wrote it, for the models that read it: one row per cluster of the
    latest run, in original and scaled units (overwritten).
#}
with

source as (
    select * from {{ source('ml', 'cluster_centroids') }}
),

renamed as (
    select
        run_id,
        cluster_id,
        cluster_name,
        customers,
        recency_days,
        frequency,
        monetary,
        scaled_recency,
        scaled_frequency,
        scaled_monetary
    from source
)

select * from renamed
