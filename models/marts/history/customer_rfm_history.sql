{#
    One row per (calendar as-of date, customer): recency, frequency, monetary, the three scores and the RFM
    segment exactly as a run with that as-of date gives them (SPEC 10, int_customer_rfm_history). The input of
    the ML step's cluster history; marts.customer_segment_history adds the clusters.
#}
{{ config(tags=['ml_input']) }}

select
    -- ids
    customer_id,

    -- text
    rfm_cell,
    rfm_segment,

    -- numbers
    recency_days,
    frequency,
    monetary,
    r_score,
    f_score,
    m_score,

    -- dates and timestamps
    as_of_date,
    last_purchase_at
from {{ ref('int_customer_rfm_history') }}
