{#
    SPEC 8 score: 1 + floor(5 * (rank() - 1) / n), rank() ascending (descending for recency, where fewer
    days is better), n = number of customers. Ties share the lowest rank, so equal values get equal scores.
    Integer division keeps it exact.
    Arguments:
      column: the measure to score.
      descending: order by the measure descending (true for recency_days).
      partition_by: rank within each value of this column (the as-of date of the history: scores rank among
        the customers of one date).
#}
{% macro rfm_score(column, descending=false, partition_by=none) -%}
    {%- set partition = 'partition by ' ~ partition_by ~ ' ' if partition_by else '' -%}
    cast(
        1 + (5 * (rank() over ({{ partition }}order by {{ column }} {{ 'desc' if descending else 'asc' }}) - 1))
        div count(*) over ({{ partition | trim }})
        as int
    )
{%- endmacro %}
