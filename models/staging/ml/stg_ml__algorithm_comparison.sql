{#
    ml.algorithm_comparison as the ml/ step wrote it, for the models that read it: one row per
    (comparison, algorithm) at one k (appended by `segmentation compare` and `run`).
#}
with

source as (
    select * from {{ source('ml', 'algorithm_comparison') }}
),

renamed as (
    select
        run_id,
        algorithm,
        k,
        silhouette,
        cost,
        cost_measure,
        customers,
        compared_at
    from source
)

select * from renamed
