{#
    ml.clv_calibration as the ml/ step wrote it, for the models that read it: one row per (CLV run,
    method, calibration frequency): the backtest's calibration plot, the mean actual and mean predicted
    holdout purchase days of the customers with that many repeat purchase days at the calibration date (7
    stands for 7 or more) (appended).
#}
with

source as (
    select * from {{ source('ml', 'clv_calibration') }}
),

renamed as (
    select
        run_id,
        calibration_date,
        method,
        frequency_repeat,
        customers,
        actual_mean,
        predicted_mean,
        tested_at
    from source
)

select * from renamed
