{#
    Fails (one row) when the model has no rows, optionally after a filter.
#}
{% test not_empty(model, condition='true') %}
    select 'no rows' as problem
    from (select count(*) as row_count from {{ model }} where {{ condition }})
    where row_count = 0
{% endtest %}
