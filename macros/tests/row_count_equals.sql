{#
    Fails (one row) unless the model has exactly `expected` rows.
#}
{% test row_count_equals(model, expected) %}
    select row_count
    from (select count(*) as row_count from {{ model }})
    where row_count != {{ expected }}
{% endtest %}
