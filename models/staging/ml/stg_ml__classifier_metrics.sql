{#
    ml.classifier_metrics as the ml/ step wrote it, for the models that read it: one row per (classifier
    run, target, model), test-split metrics against the majority-class baseline (appended).
#}
with

source as (
    select * from {{ source('ml', 'classifier_metrics') }}
),

renamed as (
    select
        run_id,
        target,
        model,
        accuracy,
        weighted_precision,
        weighted_recall,
        f1,
        baseline_accuracy,
        baseline_f1,
        cv_f1,
        train_customers,
        test_customers,
        classes,
        is_best,
        params,
        trained_at
    from source
)

select * from renamed
