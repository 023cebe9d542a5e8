{#
    SPEC 8: equal values always get equal scores. Fails once for every value of `value_column` (within a
    value of `partition_by`, when given: the history scores each date apart) that carries more than one
    distinct `score_column`.
#}
{% test equal_scores_for_equal_values(model, value_column, score_column, partition_by=none) %}
    select
        {% if partition_by %}{{ partition_by }},{% endif %}
        {{ value_column }},
        count(distinct {{ score_column }}) as distinct_scores
    from {{ model }}
    group by {% if partition_by %}{{ partition_by }}, {% endif %}{{ value_column }}
    having count(distinct {{ score_column }}) > 1
{% endtest %}
