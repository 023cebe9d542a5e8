{#
    One row per k of the k sweep of the clustering run the marts show (dim_customers): training cost,
    silhouette and the chosen k, with the run's algorithm and k rule.
#}

with

shown_run as (
    select max(cluster_run_id) as run_id from {{ ref('dim_customers') }}
),

runs as (
    select * from {{ ref('stg_ml__model_runs') }}
),

sweep as (
    select * from {{ ref('stg_ml__k_sweep') }}
)

select
    sweep.run_id,
    sweep.algorithm,
    runs.k_rule,
    sweep.k,
    sweep.cost,
    sweep.silhouette,
    sweep.is_chosen
from sweep
inner join shown_run
    on sweep.run_id = shown_run.run_id
left join runs
    on sweep.run_id = runs.run_id
