{#
    ml.clv_backtest as the ml/ step wrote it, for the models that read it: one row per (CLV run, method):
    the forward backtest of SPEC 11. Fitted at the calibration date, the predicted repeat purchase days of
    the following 90 days against the actual ones, for the model and for the baseline frequency_repeat / T
    x 90 (appended).
#}
with

source as (
    select * from {{ source('ml', 'clv_backtest') }}
),

renamed as (
    select
        run_id,
        calibration_date,
        holdout_end,
        method,
        customers,
        actual_purchases,
        predicted_purchases,
        mae,
        spearman,
        top10_capture,
        tested_at
    from source
)

select * from renamed
