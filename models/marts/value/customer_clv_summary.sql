{#
    One row per (summary date, customer): the buy-till-you-die summary of SPEC 11 at the run's as-of date
    (summary_role as_of) and at the calibration date (calibration), in whole days:
      frequency_repeat = purchase days - 1; recency_period = days from the first to the last purchase day;
      T = days from the first purchase day to the date; avg_repeat_value = mean value of the purchase days
      after the first (null without one).
    Calibration rows also carry holdout_purchase_days: the customer's purchase days in
    [calibration date, as-of date), what the backtest compares its predictions with. The ML step fits
    BG/NBD and Gamma-Gamma on these rows.
#}
{{ config(tags=['ml_input']) }}

with

purchase_days as (
    select
        *,
        row_number() over (
            partition by summary_date, customer_id order by purchase_day
        ) as day_number
    from {{ ref('int_customer_purchase_days') }}
),

summaries as (
    select
        summary_date,
        summary_role,
        customer_id,
        count(*) as purchase_days,
        min(purchase_day) as first_purchase_day,
        max(purchase_day) as last_purchase_day,
        sum(case when day_number > 1 then day_value end) as repeat_value
    from purchase_days
    group by summary_date, summary_role, customer_id
),

holdout as (
    select
        calibration.customer_id,
        count(*) as holdout_purchase_days
    from summaries as calibration
    inner join purchase_days as as_of_days
        on
            calibration.customer_id = as_of_days.customer_id
            and as_of_days.summary_role = 'as_of'
            and calibration.summary_date <= as_of_days.purchase_day
    where calibration.summary_role = 'calibration'
    group by calibration.customer_id
),

final as (
    select
        -- ids
        summaries.customer_id,

        -- text
        summaries.summary_role,

        -- numbers
        -- T in capitals as SPEC 11 names it (the buy-till-you-die convention)
        cast(summaries.purchase_days - 1 as int) as frequency_repeat,
        datediff(summaries.last_purchase_day, summaries.first_purchase_day) as recency_period,
        datediff(summaries.summary_date, summaries.first_purchase_day) as T,  -- noqa: CP02
        cast(
            case
                when summaries.purchase_days > 1 then summaries.repeat_value / (summaries.purchase_days - 1)
            end as double
        ) as avg_repeat_value,
        case
            when summaries.summary_role = 'calibration' then cast(coalesce(holdout.holdout_purchase_days, 0) as int)
        end as holdout_purchase_days,

        -- dates
        summaries.summary_date,
        summaries.first_purchase_day,
        summaries.last_purchase_day
    from summaries
    left join holdout
        on summaries.customer_id = holdout.customer_id and summaries.summary_role = 'calibration'
)

select * from final
