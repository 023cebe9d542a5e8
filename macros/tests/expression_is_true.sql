{#
    Fails for every row where `expression` is not true (null counts as failing).
    Arguments:
      expression: a boolean SQL expression over the model's columns.
      where: optional filter applied before the check (dbt's standard `where` config also works).
#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce({{ expression }}, false)
{% endtest %}
