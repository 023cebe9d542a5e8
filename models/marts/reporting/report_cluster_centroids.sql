{#
    One row per cluster of the run the marts show: its size and centroid, in original units and standardised
    (z-scores of log1p R, F, M), as the ML step wrote them.
#}

select
    run_id,
    cluster_id,
    cluster_name,
    customers,
    recency_days,
    frequency,
    monetary,
    scaled_recency,
    scaled_frequency,
    scaled_monetary
from {{ ref('stg_ml__cluster_centroids') }}
where run_id = (select max(customers.cluster_run_id) from {{ ref('dim_customers') }} as customers)
