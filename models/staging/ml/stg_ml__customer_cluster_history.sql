{#
    One row per (calendar as-of date, clustered customer) of the latest run's cluster history, renamed for
    the marts.
#}
with

source as (
    select * from {{ source('ml', 'customer_cluster_history') }}
),

renamed as (
    select
        -- ids
        customer_id,
        run_id as cluster_run_id,
        cluster_id,

        -- text
        cluster_name,

        -- dates and timestamps
        as_of_date,
        assigned_at as cluster_assigned_at
    from source
)

select * from renamed
