{#
    One row per check of SPEC 5, with counts and percentages: matching outcomes (full, partial, none),
    the exact-counterpart share, the independence share, and the share of cancelled invoices among all
    purchase and cancellation invoices in matching scope.
#}
with

cancellation_lines as (
    select * from {{ ref('int_cancellation_lines_checked') }}
),

scoped_lines as (
    select
        invoice_no,
        line_kind
    from {{ ref('fct_order_lines') }}
    where is_in_matching_scope
),

-- One row per invoice first: two count(distinct) over every scoped line would make Spark expand them twice.
scoped_invoices as (
    select
        invoice_no,
        bool_or(line_kind = 'cancellation') as has_cancellation_line
    from scoped_lines
    group by invoice_no
),

line_checks as (
    select
        'cancellation_lines_fully_matched' as check_name,
        'cancellation lines' as unit,
        count_if(match_status = 'full') as matching_count,
        count(*) as total_count
    from cancellation_lines
    union all
    select
        'cancellation_lines_partially_matched' as check_name,
        'cancellation lines' as unit,
        count_if(match_status = 'partial') as matching_count,
        count(*) as total_count
    from cancellation_lines
    union all
    select
        'cancellation_lines_unmatched' as check_name,
        'cancellation lines' as unit,
        count_if(match_status = 'none') as matching_count,
        count(*) as total_count
    from cancellation_lines
    union all
    select
        'cancelled_units_matched' as check_name,
        'units' as unit,
        sum(matched_units) as matching_count,
        sum(cancelled_quantity) as total_count
    from cancellation_lines
    union all
    select
        'exact_counterpart' as check_name,
        'cancellation lines' as unit,
        count_if(has_exact_counterpart) as matching_count,
        count(*) as total_count
    from cancellation_lines
),

invoice_checks as (
    select
        'independence' as check_name,
        'cancellation invoices' as unit,
        count(distinct case when is_invoice_independent then invoice_no end) as matching_count,
        count(distinct invoice_no) as total_count
    from cancellation_lines
    union all
    select
        'cancelled_invoice_share' as check_name,
        'invoices' as unit,
        count_if(has_cancellation_line) as matching_count,
        count(*) as total_count
    from scoped_invoices
),

final as (
    select
        check_name,
        unit,
        coalesce(matching_count, 0) as matching_count,
        coalesce(total_count, 0) as total_count,
        round(100 * matching_count / nullif(total_count, 0), 2) as matching_pct
    from (
        select * from line_checks
        union all
        select * from invoice_checks
    ) as all_checks
)

select * from final
