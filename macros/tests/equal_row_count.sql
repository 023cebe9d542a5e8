{#
    Fails (one row) when the model and `compare_model` have different row counts, optionally filtered.
    Arguments:
      compare_model: a ref() or source() to compare with.
      model_condition, compare_condition: optional where clauses for each side.
#}
{% test equal_row_count(model, compare_model, model_condition='true', compare_condition='true') %}
    with

    counts as (
        select
            (select count(*) from {{ model }} where {{ model_condition }}) as model_rows,
            (select count(*) from {{ compare_model }} where {{ compare_condition }}) as compare_rows
    )

    select * from counts
    where model_rows != compare_rows
{% endtest %}
