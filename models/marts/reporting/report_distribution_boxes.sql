{#
    One row per measure (quantity, effective_unit_price): the box-plot statistics of the merchandise purchase
    lines in the window, which the IQR fences are computed over (SPEC 6), with the fences themselves. Exact
    percentiles; the whiskers reach the most extreme values inside the fences.
#}

with

lines as (
    select
        cast(quantity as double) as quantity,
        effective_unit_price
    from {{ ref('fct_order_lines') }}
    where is_merchandise_purchase and is_in_window
),

measured as (
    select
        'quantity' as measure_name,
        quantity as measure_value
    from lines

    union all

    select
        'effective_unit_price' as measure_name,
        effective_unit_price as measure_value
    from lines
),

fences as (
    select
        measure_name,
        lower_fence,
        upper_fence
    from {{ ref('int_outlier_fences') }}
),

final as (
    select
        measured.measure_name,
        count(*) as line_count,
        min(measured.measure_value) as min_value,
        percentile(measured.measure_value, 0.25) as q1,
        percentile(measured.measure_value, 0.5) as median,  -- noqa: RF04
        percentile(measured.measure_value, 0.75) as q3,
        max(measured.measure_value) as max_value,
        min(case when measured.measure_value >= fences.lower_fence then measured.measure_value end)
            as lower_whisker,
        max(case when measured.measure_value <= fences.upper_fence then measured.measure_value end)
            as upper_whisker,
        count_if(
            measured.measure_value < fences.lower_fence or measured.measure_value > fences.upper_fence
        ) as outside_lines,
        max(fences.lower_fence) as lower_fence,
        max(fences.upper_fence) as upper_fence
    from measured
    inner join fences
        on measured.measure_name = fences.measure_name
    group by measured.measure_name
)

select * from final
