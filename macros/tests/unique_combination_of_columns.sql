{#
    Fails once for every combination of the given columns that occurs more than once.
    Arguments:
      combination_of_columns: list of column names that together form the grain.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
