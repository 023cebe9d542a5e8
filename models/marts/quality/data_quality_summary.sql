{#
    The EDA as SQL: one row per (section, metric). Sections: raw_missing (share of empty values per raw
    column), row_fate (kept, duplicate, rejected: they add up to the raw rows), reject_reason, line_kind,
    customer_imputation, price_imputation, outliers (lines outside the fences per column, and the fences),
    cancellation_matching. row_count is the metric's count, share its part of the section's base.
    Everything comes from staging and the line facts: staging keeps one row per raw row, the typed value of
    kept rows (a kept row's key columns are never empty) and the raw text of rejected ones.
#}
{%- set typed_columns = ['invoice_no', 'stock_code', 'quantity', 'invoice_date', 'unit_price', 'customer_id'] %}
{%- set text_columns = ['description', 'country'] %}
with

staged_rows as (
    select * from {{ ref('stg_online_retail__transaction_lines') }}
),

order_lines as (
    select * from {{ ref('fct_order_lines') }}
),

fences as (
    select * from {{ ref('int_outlier_fences') }}
),

raw_missing as (
    select
        'raw_missing' as section,
        column_name as metric,
        missing_count as row_count,
        cast(missing_count as double) / nullif(total_count, 0) as share,
        cast(null as double) as metric_value
    from (
        select
            {% for column in typed_columns %}
                count_if(
                    case
                        when staged_rows.row_fate = 'rejected' then staged_rows.rejected_raw_values.{{ column }} is null
                        else staged_rows.{{ column }} is null
                    end
                ) as {{ column }},
            {% endfor %}
            {% for column in text_columns %}
                count_if(staged_rows.{{ column }} is null) as {{ column }},
            {% endfor %}
            count(*) as total_count
        from staged_rows
    ) as missing_counts
        unpivot (missing_count for column_name in ({{ (typed_columns + text_columns) | join(', ') }}))
),

row_fates as (
    select
        'row_fate' as section,
        row_fate as metric,
        count(*) as row_count,
        count(*) / sum(count(*)) over () as share,
        cast(null as double) as metric_value
    from staged_rows
    group by row_fate
),

cross_file_duplicates as (
    select
        'duplicates' as section,
        'duplicate_of_another_file' as metric,
        count_if(is_duplicate_of_another_file) as row_count,
        count_if(is_duplicate_of_another_file) / nullif(count_if(row_fate = 'duplicate'), 0) as share,
        cast(null as double) as metric_value
    from staged_rows
),

reject_reasons as (
    select
        'reject_reason' as section,
        rejected_rows.reject_reason as metric,
        count(*) as row_count,
        count(*) / (select count(*) from staged_rows) as share,
        cast(null as double) as metric_value
    from staged_rows as rejected_rows
    where rejected_rows.row_fate = 'rejected'
    group by rejected_rows.reject_reason
),

line_kinds as (
    select
        'line_kind' as section,
        line_kind as metric,
        count(*) as row_count,
        count(*) / sum(count(*)) over () as share,
        cast(null as double) as metric_value
    from order_lines
    group by line_kind
),

customer_imputation as (
    select
        'customer_imputation' as section,
        metric,
        row_count,
        row_count / nullif(kept_count, 0) as share,
        cast(null as double) as metric_value
    from (
        select
            count(*) as kept_count,
            count_if(is_customer_imputed) as imputed_from_invoice,
            count_if(customer_id is null) as still_missing
        from order_lines
    ) as imputation_counts
        unpivot (row_count for metric in (imputed_from_invoice, still_missing))
),

price_imputation as (
    select
        'price_imputation' as section,
        price_imputation_status as metric,
        count(*) as row_count,
        count(*) / sum(count(*)) over () as share,
        cast(null as double) as metric_value
    from order_lines
    where is_merchandise_purchase and unit_price = 0
    group by price_imputation_status
),

outlier_lines as (
    select
        'outliers' as section,
        metric,
        row_count,
        row_count / nullif(purchase_count, 0) as share,
        cast(null as double) as metric_value
    from (
        select
            count(*) as purchase_count,
            count_if(is_quantity_outlier) as quantity_outlier_lines,
            count_if(is_unit_price_outlier) as unit_price_outlier_lines,
            count_if(is_outlier) as outlier_lines
        from order_lines
        where is_merchandise_purchase and is_in_window
    ) as outlier_counts
        unpivot (row_count for metric in (quantity_outlier_lines, unit_price_outlier_lines, outlier_lines))
),

fence_values as (
    select
        'outlier_fences' as section,
        concat(measure_name, '_', fence) as metric,
        cast(null as bigint) as row_count,
        cast(null as double) as share,
        fence_value as metric_value
    from fences
        unpivot (fence_value for fence in (q1, q3, lower_fence, upper_fence))
),

matching as (
    select
        'cancellation_matching' as section,
        match_status as metric,
        count(*) as row_count,
        count(*) / sum(count(*)) over () as share,
        cast(sum(matched_units) as double) as metric_value
    from order_lines
    where is_in_matching_scope and line_kind = 'cancellation'
    group by match_status
),

final as (
    select * from raw_missing
    union all
    select * from row_fates
    union all
    select * from cross_file_duplicates
    union all
    select * from reject_reasons
    union all
    select * from line_kinds
    union all
    select * from customer_imputation
    union all
    select * from price_imputation
    union all
    select * from outlier_lines
    union all
    select * from fence_values
    union all
    select * from matching
)

select
    section,
    metric,
    row_count,
    round(share, 6) as share,
    metric_value
from final
