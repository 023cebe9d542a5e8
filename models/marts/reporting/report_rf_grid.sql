{#
    One row per (R score, F score) cell that holds customers: how many, and their average monetary.
#}

select
    r_score,
    f_score,
    count(*) as customers,
    cast(avg(monetary) as double) as avg_monetary
from {{ ref('customer_rfm') }}
group by r_score, f_score
