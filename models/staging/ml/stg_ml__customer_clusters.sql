{#
    One row per customer in the latest clustering assignment written by the ml/ step.
#}
with

source as (
    select * from {{ source('ml', 'customer_clusters') }}
),

renamed as (
    select
        -- ids
        customer_id,
        run_id as cluster_run_id,
        cluster_id,

        -- text
        cluster_name,
        algorithm as cluster_algorithm,

        -- numbers
        k as cluster_count,

        -- timestamps
        assigned_at as cluster_assigned_at
    from source
)

select * from renamed
