{#
    The latest CLV run's forward backtest (SPEC 11): one row per (method, calibration frequency) of the
    calibration plot, with that method's overall metrics beside it.
#}

with

backtests as (
    select * from {{ ref('stg_ml__clv_backtest') }}
),

latest as (
    select max_by(run_id, tested_at) as run_id from backtests
),

calibration as (
    select * from {{ ref('stg_ml__clv_calibration') }}
)

select
    backtests.run_id,
    backtests.calibration_date,
    backtests.holdout_end,
    backtests.method,
    calibration.frequency_repeat,
    calibration.customers as frequency_customers,
    calibration.actual_mean,
    calibration.predicted_mean,
    backtests.customers,
    backtests.actual_purchases,
    backtests.predicted_purchases,
    backtests.mae,
    backtests.spearman,
    backtests.top10_capture
from backtests
inner join latest
    on backtests.run_id = latest.run_id
inner join calibration
    on backtests.run_id = calibration.run_id and backtests.method = calibration.method
