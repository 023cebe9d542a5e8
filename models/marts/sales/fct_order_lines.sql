{#
    One row per kept transaction line (all line kinds), net of matched cancellations: net_quantity and
    net_revenue carry each line's contribution to RFM (SPEC 5-7), with imputation, outlier and matching flags.
    Summing net_revenue over a customer's lines gives customer_rfm.monetary (raw-value mode).
    A view, not a table: its columns are cheap projections of int_transaction_lines_matched and the two-row
    fences, so writing every line a second time cost more than its readers recompute (README, Benchmark,
    step 7). Both inputs are swap_tables, so BI clients reading this view never see them missing or
    half-written while dbt rebuilds them.
#}
{{ config(materialized='view') }}
with

enriched_lines as (
    select * from {{ ref('int_transaction_lines_enriched') }}
),

final as (
    select
        -- ids
        line_id,
        invoice_no,
        stock_code,
        customer_id,

        -- text
        description,
        country,
        line_kind,
        price_imputation_status,
        match_status,

        -- numbers
        quantity,
        unit_price,
        effective_unit_price,
        quantity_capped,
        unit_price_capped,
        matched_units,
        unmatched_units,
        cancelled_units,
        net_quantity,
        gross_revenue,
        net_revenue,
        net_revenue_capped,

        -- booleans
        is_merchandise,
        is_merchandise_purchase,
        is_customer_imputed,
        is_price_imputed,
        is_quantity_outlier,
        is_unit_price_outlier,
        is_outlier,
        is_in_window,
        is_in_matching_scope,

        -- dates and timestamps
        invoice_date,

        -- lineage
        _source_file,
        _source_line
    from enriched_lines
)

select * from final
