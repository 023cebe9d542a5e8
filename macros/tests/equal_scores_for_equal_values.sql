{#
    SPEC 8: equal values always get equal scores. Fails once for every value of `value_column` that
    carries more than one distinct `score_column`.
#}
{% test equal_scores_for_equal_values(model, value_column, score_column) %}
    select
        {{ value_column }},
        count(distinct {{ score_column }}) as distinct_scores
    from {{ model }}
    group by {{ value_column }}
    having count(distinct {{ score_column }}) > 1
{% endtest %}
