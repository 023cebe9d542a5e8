{#
    One row per algorithm of the latest comparison (`segmentation compare`, or the run's): silhouette and
    cost at one k.
#}

with

comparisons as (
    select * from {{ ref('stg_ml__algorithm_comparison') }}
),

latest as (
    select max_by(run_id, compared_at) as run_id from comparisons
)

select
    comparisons.run_id,
    comparisons.algorithm,
    comparisons.k,
    comparisons.silhouette,
    comparisons.cost,
    comparisons.cost_measure,
    comparisons.customers,
    comparisons.compared_at
from comparisons
inner join latest
    on comparisons.run_id = latest.run_id
