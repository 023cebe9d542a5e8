{#
    One row per (target, model) of the latest classifier run: test-split scores against the majority-class
    baseline, the cross-validated F1, and which model is best.
#}

with

metrics as (
    select * from {{ ref('stg_ml__classifier_metrics') }}
),

latest as (
    select max_by(run_id, trained_at) as run_id from metrics
)

select metrics.*
from metrics
inner join latest
    on metrics.run_id = latest.run_id
