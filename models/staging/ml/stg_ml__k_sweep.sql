{#
    ml.k_sweep as the ml/ step wrote it, for the models that read it: one row per (run, k) of the k sweep
    k = 2..10 (appended).
#}
with

source as (
    select * from {{ source('ml', 'k_sweep') }}
),

renamed as (
    select
        run_id,
        algorithm,
        k,
        cost,
        silhouette,
        is_chosen
    from source
)

select * from renamed
