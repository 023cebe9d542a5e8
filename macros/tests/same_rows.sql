{#
    Fails with the rows that `model` and `compare_model` do not share: the given columns of the model's rows
    (optionally filtered) must be exactly the compare model's (optionally filtered), as a multiset. Used
    where two models must agree row for row (the history at the run's date and the run's own marts).
    Arguments:
      columns: the columns compared (the same names on both sides).
      compare_model: the other relation.
      model_condition, compare_condition: SQL filters for each side (default: every row).
#}
{% test same_rows(model, columns, compare_model, model_condition='true', compare_condition='true') %}
    {%- set column_list = columns | join(', ') %}
    with

    model_rows as (
        select {{ column_list }} from {{ model }} where {{ model_condition }}
    ),

    compare_rows as (
        select {{ column_list }} from {{ compare_model }} where {{ compare_condition }}
    ),

    only_in_model as (
        select 'only in the model' as side, * from (select * from model_rows except all select * from compare_rows)
    ),

    only_in_compare as (
        select 'only in the compare model' as side, * from (select * from compare_rows except all select * from model_rows)
    )

    select * from only_in_model
    union all
    select * from only_in_compare
{% endtest %}
