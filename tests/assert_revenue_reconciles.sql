{#
    Every customer's monetary equals a recomputation from the matched lines' quantities and prices, not from
    the net_revenue column the mart sums: purchases count quantity x effective_unit_price (capped in capped
    mode, with the fences clamped here), cancellations subtract matched_units x unit_price (SPEC 5-7).
    Returns customers whose figures differ, and customers present on one side only.
#}
{%- set capped = var('rfm_use_capped_values', false) %}
with

fences as (
    select
        max(case when measure_name = 'quantity' then lower_fence end) as q_lo,
        max(case when measure_name = 'quantity' then upper_fence end) as q_hi,
        max(case when measure_name = 'effective_unit_price' then lower_fence end) as p_lo,
        max(case when measure_name = 'effective_unit_price' then upper_fence end) as p_hi
    from {{ ref('int_outlier_fences') }}
),

line_amounts as (
    select
        lines.customer_id,
        case
            when lines.line_kind = 'purchase'
                {% if capped -%}
                    then least(greatest(cast(lines.quantity as double), fences.q_lo), fences.q_hi)
                    * least(greatest(lines.effective_unit_price, fences.p_lo), fences.p_hi)
                {%- else -%}
                    then lines.quantity * lines.effective_unit_price
                {%- endif %}
            else -lines.matched_units * lines.unit_price
        end as amount,
        lines.line_kind = 'purchase' as is_purchase
    from {{ ref('int_transaction_lines_matched') }} as lines
    cross join fences
    where lines.is_in_matching_scope
),

recomputed as (
    select
        customer_id,
        cast(round(sum(cast(amount as decimal(38, 6))), 2) as decimal(18, 2)) as monetary
    from line_amounts
    group by customer_id
    having count_if(is_purchase) > 0
)

select
    coalesce(recomputed.customer_id, customers.customer_id) as customer_id,
    recomputed.monetary as recomputed_monetary,
    customers.monetary as mart_monetary
from recomputed
full outer join {{ ref('customer_rfm') }} as customers
    on recomputed.customer_id = customers.customer_id
where
    recomputed.customer_id is null
    or customers.customer_id is null
    or recomputed.monetary != customers.monetary
