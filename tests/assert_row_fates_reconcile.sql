{#
    SPEC 2: every raw row has exactly one fate, and raw = rejected + duplicate + kept.
    Returns a row when the counts do not add up.
#}
with

raw_rows as (
    select count(*) as raw_count from {{ source('online_retail', 'transactions') }}
),

fates as (
    select
        count_if(row_fate = 'rejected') as rejected_count,
        count_if(row_fate = 'duplicate') as duplicate_count,
        count_if(row_fate = 'kept') as kept_count,
        count(*) as staged_count
    from {{ ref('stg_online_retail__transaction_lines') }}
),

rejects as (
    select count(*) as rejects_model_count from {{ ref('rejected_lines') }}
),

kept_lines as (
    select count(*) as kept_model_count from {{ ref('fct_order_lines') }}
)

select *
from raw_rows
cross join fates
cross join rejects
cross join kept_lines
where
    raw_count != rejected_count + duplicate_count + kept_count
    or raw_count != staged_count
    or rejects_model_count != rejected_count
    or kept_model_count != kept_count
