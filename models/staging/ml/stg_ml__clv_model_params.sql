{#
    ml.clv_model_params as the ml/ step wrote it, for the models that read it: one row per (CLV run, fit,
    model, parameter) with the fit's log-likelihood (appended).
#}
with

source as (
    select * from {{ source('ml', 'clv_model_params') }}
),

renamed as (
    select
        run_id,
        fit,
        summary_date,
        model,
        parameter,
        value,
        log_likelihood,
        customers,
        at_boundary,
        note,
        fitted_at
    from source
)

select * from renamed
