{#
    Fails (one row) when sum(column_name) over the model differs from sum(compare_column) over
    compare_model by more than `tolerance` (both sides optionally filtered). Used for revenue reconciliation.
#}
{% test sums_match(model, column_name, compare_model, compare_column, model_condition='true', compare_condition='true', tolerance=0) %}
    with

    totals as (
        select
            (select coalesce(sum({{ column_name }}), 0) from {{ model }} where {{ model_condition }}) as model_total,
            (select coalesce(sum({{ compare_column }}), 0) from {{ compare_model }} where {{ compare_condition }}) as compare_total
    )

    select * from totals
    where abs(model_total - compare_total) > {{ tolerance }}
{% endtest %}
