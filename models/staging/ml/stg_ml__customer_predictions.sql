{#
    One row per customer of the latest CLV run's as-of date: the four predictions of SPEC 11, renamed for
    the marts.
#}
with

source as (
    select * from {{ source('ml', 'customer_predictions') }}
),

renamed as (
    select
        -- ids
        customer_id,
        run_id as clv_run_id,

        -- numbers
        p_alive,
        expected_purchases_90d,
        expected_avg_value,
        clv_12m,

        -- dates
        as_of_date as clv_as_of_date
    from source
)

select * from renamed
