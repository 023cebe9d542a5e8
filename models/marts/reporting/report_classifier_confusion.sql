{#
    One row per (target, actual class, predicted class) of the latest classifier run's best model per target
    (test split).
#}

with

best as (
    select
        run_id,
        target,
        model
    from {{ ref('report_classifier_results') }}
    where is_best
)

select
    confusion.target,
    confusion.model,
    confusion.actual,
    confusion.predicted,
    confusion.count as customers
from {{ ref('stg_ml__classifier_confusion') }} as confusion
inner join best
    on
        confusion.run_id = best.run_id
        and confusion.target = best.target
        and confusion.model = best.model
