{#
    Fails with every group whose shares do not sum to 1 (within the rounding of the shares).
    Arguments:
      share_column: the share.
      group_by: the columns of a group whose shares make a whole.
      tolerance: allowed difference (default 1e-4).
#}
{% test shares_sum_to_one(model, share_column, group_by, tolerance=0.0001) %}
    select
        {{ group_by | join(', ') }},
        sum({{ share_column }}) as total_share
    from {{ model }}
    group by {{ group_by | join(', ') }}
    having abs(sum({{ share_column }}) - 1) > {{ tolerance }}
{% endtest %}
