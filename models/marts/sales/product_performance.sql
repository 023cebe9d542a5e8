{#
    One row per merchandise stock code with a purchase line in the analysis window: units, revenue,
    cancellation rate (matched cancelled units / purchased units of known customers), customers, and the
    three RFM segments that bring the product the most net revenue.
    The description's mode and the two distinct counts are separate plain aggregations joined on stock_code:
    `mode()` and two `count(distinct)` in one aggregation made this the slowest model (bench/results/HISTORY.md:
    about three times this form's time, same rows).
#}
with

window_lines as (
    select * from {{ ref('fct_order_lines') }}
    where is_merchandise and is_in_window
),

customers as (
    select
        customer_id,
        rfm_segment
    from {{ ref('customer_rfm') }}
),

product_lines as (
    select
        stock_code,
        sum(case when line_kind = 'purchase' then quantity else 0 end) as purchased_units,
        sum(case when line_kind = 'purchase' then gross_revenue else 0 end) as gross_revenue,
        sum(net_revenue) as net_revenue,
        sum(case when is_in_matching_scope and line_kind = 'purchase' then quantity else 0 end)
            as customer_purchased_units,
        sum(case when is_in_matching_scope and line_kind = 'cancellation' then matched_units else 0 end)
            as cancelled_units
    from window_lines
    group by stock_code
    having sum(case when line_kind = 'purchase' then 1 else 0 end) > 0
),

product_invoices as (
    select distinct
        stock_code,
        invoice_no
    from window_lines
    where line_kind = 'purchase'
),

product_orders as (
    select
        stock_code,
        count(invoice_no) as orders
    from product_invoices
    group by stock_code
),

product_buyers as (
    select distinct
        stock_code,
        customer_id
    from window_lines
),

product_customers as (
    select
        stock_code,
        count(customer_id) as customers
    from product_buyers
    group by stock_code
),

description_counts as (
    select
        stock_code,
        description,
        row_number() over (partition by stock_code order by count(*) desc, description asc) as description_rank
    from window_lines
    where description is not null
    group by stock_code, description
),

products as (
    select
        product_lines.*,
        description_counts.description,
        coalesce(product_orders.orders, 0) as orders,
        product_customers.customers
    from product_lines
    left join product_orders
        on product_lines.stock_code = product_orders.stock_code
    left join product_customers
        on product_lines.stock_code = product_customers.stock_code
    left join description_counts
        on
            product_lines.stock_code = description_counts.stock_code
            and description_counts.description_rank = 1
),

segment_revenue as (
    select
        window_lines.stock_code,
        customers.rfm_segment,
        sum(window_lines.net_revenue) as net_revenue,
        row_number() over (
            partition by window_lines.stock_code
            order by sum(window_lines.net_revenue) desc, customers.rfm_segment asc
        ) as segment_rank
    from window_lines
    inner join customers
        on window_lines.customer_id = customers.customer_id
    where window_lines.is_in_matching_scope
    group by window_lines.stock_code, customers.rfm_segment
),

top_segments as (
    select
        stock_code,
        concat_ws(', ', transform(
            array_sort(collect_list(struct(segment_rank, rfm_segment))),
            ranked -> ranked.rfm_segment
        )) as top_rfm_segments
    from segment_revenue
    where segment_rank <= 3
    group by stock_code
),

final as (
    select
        -- ids
        products.stock_code,

        -- text
        products.description,
        top_segments.top_rfm_segments,

        -- numbers
        products.purchased_units,
        products.cancelled_units,
        products.gross_revenue,
        products.net_revenue,
        round(products.cancelled_units / nullif(products.customer_purchased_units, 0), 4) as cancellation_rate,
        products.orders,
        products.customers,
        row_number() over (order by products.net_revenue desc, products.stock_code asc) as revenue_rank
    from products
    left join top_segments
        on products.stock_code = top_segments.stock_code
)

select * from final
