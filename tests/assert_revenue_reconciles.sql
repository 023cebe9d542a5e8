{#
    fct_order_lines net revenue of known customers equals the sum of customer_rfm.monetary. monetary is
    rounded to cents per customer, so the totals may differ by at most half a cent per customer.
#}
{%- set revenue_column = 'net_revenue_capped' if var('rfm_use_capped_values', false) else 'net_revenue' %}
with

line_total as (
    select coalesce(sum({{ revenue_column }}), 0) as lines_net_revenue
    from {{ ref('fct_order_lines') }}
    where customer_id is not null and is_in_matching_scope
),

customer_total as (
    select
        coalesce(sum(monetary), 0) as customers_monetary,
        count(*) as customer_count
    from {{ ref('customer_rfm') }}
)

select *
from line_total
cross join customer_total
where abs(lines_net_revenue - customers_monetary) > 0.005 * customer_count
