{#
    One row per RFM segment: the distribution of P(alive) (SPEC 11) over its customers, as box-plot
    statistics. Empty until the ML step has run.
#}

select
    rfm_segment,
    count(*) as customers,
    min(p_alive) as min_p_alive,
    percentile(p_alive, 0.25) as q1_p_alive,
    percentile(p_alive, 0.5) as median_p_alive,
    percentile(p_alive, 0.75) as q3_p_alive,
    max(p_alive) as max_p_alive,
    avg(p_alive) as mean_p_alive
from {{ ref('dim_customers') }}
where p_alive is not null
group by rfm_segment
