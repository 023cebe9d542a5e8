{#
    One row per main country: customers and their revenue (sum of monetary), ranked by revenue.
#}

with

countries as (
    select
        country,
        sum(customers) as customers,
        cast(sum(revenue) as double) as revenue
    from {{ ref('segment_by_country') }}
    where segment_kind = 'rfm_segment'
    group by country
)

select
    country,
    customers,
    revenue,
    row_number() over (partition by 1 order by revenue desc, country asc) as revenue_rank
from countries
