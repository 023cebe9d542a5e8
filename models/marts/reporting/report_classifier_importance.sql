{#
    One row per (target, feature) of the latest classifier run's decision tree: the feature's importance.
#}

select
    importance.target,
    importance.feature,
    importance.importance
from {{ ref('stg_ml__classifier_feature_importance') }} as importance
where
    importance.model = 'decision_tree'
    and importance.run_id = (select max(results.run_id) from {{ ref('report_classifier_results') }} as results)
