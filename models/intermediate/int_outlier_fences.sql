{#
    One row per measure (quantity, effective_unit_price): exact quartiles and the IQR fences
    Q1 - k*IQR, Q3 + k*IQR over the merchandise purchase lines in the analysis window (SPEC 6; k = var iqr_k).
    Exact percentiles with linear interpolation (Spark percentile = pandas quantile), computed from a
    value histogram so that memory grows with distinct values, not with lines.
    A table of two rows: as a view, every reader (the enriched lines, data_quality_summary, the tests)
    re-scanned all lines to recompute it. Read from the matched lines, the table that materialises the
    priced lines (matching only adds columns), so the imputation is not computed a second time.
#}
{# swap_table: marts.fct_order_lines is a view over this table, and BI clients must never see it missing. #}
{{ config(materialized='swap_table') }}
{%- set iqr_k = var('iqr_k', 1.5) %}

with

purchase_lines as (
    select
        quantity,
        effective_unit_price
    from {{ ref('int_transaction_lines_matched') }}
    where
        is_merchandise
        and line_kind = 'purchase'
        and is_in_window
),

value_histogram as (
    select
        'quantity' as measure_name,
        cast(quantity as double) as measure_value,
        count(*) as line_count
    from purchase_lines
    group by quantity

    union all

    select
        'effective_unit_price' as measure_name,
        effective_unit_price as measure_value,
        count(*) as line_count
    from purchase_lines
    group by effective_unit_price
),

quartiles as (
    select
        measure_name,
        percentile(measure_value, 0.25, line_count) as q1,
        percentile(measure_value, 0.75, line_count) as q3,
        sum(line_count) as line_count
    from value_histogram
    group by measure_name
),

final as (
    select
        measure_name,
        q1,
        q3,
        q3 - q1 as iqr,
        cast({{ iqr_k }} as double) as iqr_k,
        q1 - {{ iqr_k }} * (q3 - q1) as lower_fence,
        q3 + {{ iqr_k }} * (q3 - q1) as upper_fence,
        line_count
    from quartiles
)

select * from final
