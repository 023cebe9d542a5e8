{#
    One row per invoice (kept lines only). An invoice's kind is the kind of its lines: C invoices are
    cancellations, A invoices adjustments; other invoices are purchases when any line is a purchase.
#}
with

order_lines as (
    select * from {{ ref('fct_order_lines') }}
),

final as (
    select
        -- ids
        invoice_no,
        max(customer_id) as customer_id,

        -- text
        case
            when max(case when line_kind = 'cancellation' then 1 else 0 end) = 1 then 'cancellation'
            when max(case when line_kind = 'adjustment' then 1 else 0 end) = 1 then 'adjustment'
            when max(case when line_kind = 'purchase' then 1 else 0 end) = 1 then 'purchase'
            else 'stock_adjustment'
        end as invoice_kind,
        min(country) as country,

        -- numbers
        count(*) as line_count,
        -- size(collect_set()) instead of count(distinct): an invoice has few lines, and a distinct count next to
        -- the other aggregates makes Spark expand and shuffle every line twice (bench/results/HISTORY.md)
        size(collect_set(stock_code)) as distinct_products,
        sum(quantity) as total_quantity,
        sum(net_quantity) as net_quantity,
        sum(gross_revenue) as gross_revenue,
        sum(net_revenue) as net_revenue,

        -- booleans
        max(is_customer_imputed) as has_imputed_customer,
        max(is_price_imputed) as has_imputed_price,
        max(is_outlier) as has_outlier_line,
        max(is_in_window) as is_in_window,

        -- timestamps
        min(invoice_date) as invoice_date
    from order_lines
    group by invoice_no
)

select * from final
