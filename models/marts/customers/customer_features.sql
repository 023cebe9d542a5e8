{#
    One row per RFM customer: what the segment classifiers learn from (ml/segmentation/classifier) and their
    two targets. The features describe who the customer is and how they shop, not the R, F and M that define
    the targets: country, the first order, product variety, basket shape, tenure, the share of
    non-merchandise lines and the cancellation rate. Heavy-tailed counts and money are log1p-ed, so that a
    few wholesale buyers do not dominate the logistic regression; no numeric feature is null.
#}

with

customers as (
    select
        customer_id,
        rfm_segment,
        cluster_name,
        coalesce(main_country, 'Unknown') as main_country,
        tenure_days,
        distinct_products,
        cancellation_rate
    from {{ ref('dim_customers') }}
),

ranked_orders as (
    select
        customer_id,
        line_count,
        total_quantity,
        gross_revenue,
        row_number() over (partition by customer_id order by invoice_date asc, invoice_no asc) as order_rank
    from {{ ref('fct_orders') }}
    where invoice_kind = 'purchase' and is_in_window and customer_id is not null
),

first_orders as (
    select
        customer_id,
        line_count,
        total_quantity,
        gross_revenue
    from ranked_orders
    where order_rank = 1
),

line_stats as (
    select
        customer_id,
        count(*) as kept_lines,
        count_if(not is_merchandise) as non_merchandise_lines,
        count_if(is_merchandise_purchase) as merchandise_purchase_lines,
        sum(case when is_merchandise_purchase then quantity else 0 end) as merchandise_units,
        size(collect_set(case when is_merchandise_purchase then invoice_no end)) as purchase_invoices
    from {{ ref('fct_order_lines') }}
    where customer_id is not null and is_in_window
    group by customer_id
),

final as (
    select
        -- ids
        customers.customer_id,

        -- text
        customers.rfm_segment,
        customers.cluster_name,
        customers.main_country,

        -- numbers
        log1p(greatest(coalesce(first_orders.line_count, 0), 0)) as log_first_order_lines,
        log1p(greatest(coalesce(first_orders.total_quantity, 0), 0)) as log_first_order_units,
        log1p(greatest(coalesce(cast(first_orders.gross_revenue as double), 0), 0)) as log_first_order_value,
        log1p(customers.distinct_products) as log_distinct_products,
        coalesce(line_stats.merchandise_purchase_lines / nullif(line_stats.purchase_invoices, 0), 0)
            as avg_basket_lines,
        log1p(greatest(coalesce(line_stats.merchandise_units / nullif(line_stats.purchase_invoices, 0), 0), 0))
            as log_avg_basket_units,
        cast(customers.tenure_days as double) as tenure_days,
        coalesce(line_stats.non_merchandise_lines / nullif(line_stats.kept_lines, 0), 0) as non_merchandise_share,
        cast(coalesce(customers.cancellation_rate, 0) as double) as cancellation_rate
    from customers
    left join first_orders
        on customers.customer_id = first_orders.customer_id
    left join line_stats
        on customers.customer_id = line_stats.customer_id
)

select * from final
