{#
    ml.classifier_feature_importance as the ml/ step wrote it, for the models that read it: one row per
    (classifier run, target, feature) of the decision tree's importances (appended).
#}
with

source as (
    select * from {{ source('ml', 'classifier_feature_importance') }}
),

renamed as (
    select
        run_id,
        target,
        model,
        feature,
        importance
    from source
)

select * from renamed
