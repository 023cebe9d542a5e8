{#
    ml.classifier_confusion as the ml/ step wrote it, for the models that read it: one row per (classifier
    run, target, model, actual class, predicted class) on the test split (appended).
#}
with

source as (
    select * from {{ source('ml', 'classifier_confusion') }}
),

renamed as (
    select
        run_id,
        target,
        model,
        actual,
        predicted,
        count
    from source
)

select * from renamed
