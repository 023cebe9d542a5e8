{#
    ml.model_runs as the ml/ step wrote it, for the models that read it: one row per clustering run
    (appended); the latest row is the run the marts show.
#}
with

source as (
    select * from {{ source('ml', 'model_runs') }}
),

renamed as (
    select
        run_id,
        run_at,
        as_of_date,
        algorithm,
        k,
        k_rule,
        seed,
        silhouette,
        cost,
        customers,
        parameters,
        model_path
    from source
)

select * from renamed
