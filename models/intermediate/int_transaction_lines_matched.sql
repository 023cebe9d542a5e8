{#
    One row per kept transaction line, with cancellation matching on units (SPEC 5).

    Scope: merchandise lines of known customers inside the analysis window; purchases and cancellations
    (C invoices with quantity < 0) taken together, keyed by (customer_id, stock_code) and ordered by
    invoice_date, purchases before cancellations at the same timestamp, then invoice_no, |quantity|,
    unit_price (source position last, which only orders identical lines).

    With d = running (cancelled units - purchased units), a cancellation's unmatched_units is how much it
    raises the running maximum of d, floored at 0. matched_units = |quantity| - unmatched_units.
    Purchase lines get cancelled_units: the key's matched units allocated first-in, first-out, and the key's
    units bought before them (key_units_purchased_before), so the allocation can be redone at an earlier date.
    All windows share one partitioning and order, so the whole model costs one shuffle. The scope flag leads
    the partition key: lines out of scope sort into partitions of their own and get null matching columns,
    in one pass (a union of the two sets would compute the priced view once per branch).
    The one line-level table between staging and fct_order_lines: the classified and priced lines are views
    computed here, and the fences and the assumption checks read this table.
#}
{# swap_table: marts.fct_order_lines is a view over this table, and BI clients must never see it missing. #}
{{ config(materialized='swap_table') }}
with

priced_lines as (
    {# line_id is re-derived after the sorts: they carry the lineage pair, not a third wide string. #}
    select {{ priced_line_columns() }}
    from {{ ref('int_transaction_lines_priced') }}
),

scope_flagged as (
    select
        *,
        coalesce(
            is_merchandise
            and customer_id is not null
            and is_in_window
            and (line_kind = 'purchase' or (line_kind = 'cancellation' and quantity < 0)),
            false
        ) as is_in_matching_scope
    from priced_lines
),

with_units as (
    select
        *,
        case when line_kind = 'purchase' then quantity else 0 end as purchased_units,
        case when line_kind = 'cancellation' then -quantity else 0 end as cancellation_units,
        case when line_kind = 'purchase' then 0 else 1 end as kind_order
    from scope_flagged
),

running_balance as (
    select
        *,
        sum(cancellation_units - purchased_units) over key_order as cancel_minus_purchase_balance,
        coalesce(sum(purchased_units) over key_order_before, 0) as purchased_units_before
    from with_units
    window
        key_order as ({{ matching_key_window('rows between unbounded preceding and current row') }}),
        key_order_before as ({{ matching_key_window('rows between unbounded preceding and 1 preceding') }})
),

running_peak as (
    select
        *,
        greatest(0, max(cancel_minus_purchase_balance) over key_order) as peak_now,
        greatest(0, coalesce(max(cancel_minus_purchase_balance) over key_order_before, 0)) as peak_before
    from running_balance
    window
        key_order as ({{ matching_key_window('rows between unbounded preceding and current row') }}),
        key_order_before as ({{ matching_key_window('rows between unbounded preceding and 1 preceding') }})
),

units_matched as (
    select
        *,
        case
            when is_in_matching_scope and line_kind = 'cancellation' then peak_now - peak_before
        end as unmatched_units,
        case
            when is_in_matching_scope and line_kind = 'cancellation'
                then cancellation_units - (peak_now - peak_before)
        end as matched_units
    from running_peak
),

key_totals as (
    select
        *,
        sum(coalesce(matched_units, 0)) over (
            {{ matching_key_window('rows between unbounded preceding and unbounded following') }}
        ) as key_matched_units
    from units_matched
),

final as (
    select
        {{ source_line_id() }} as line_id,
        {{ priced_line_columns() }},
        is_in_matching_scope,
        matched_units,
        unmatched_units,
        case
            when matched_units is null then null
            when unmatched_units = 0 then 'full'
            when matched_units = 0 then 'none'
            else 'partial'
        end as match_status,
        case
            when is_in_matching_scope and line_kind = 'purchase'
                then least(quantity, greatest(cast(0 as bigint), key_matched_units - purchased_units_before))
        end as cancelled_units,
        {# The key's units bought before this purchase line: with a date's matched units it gives the line's
           cancelled units as of that date (the CLV summary, first-in first-out as cancelled_units). #}
        case when is_in_matching_scope and line_kind = 'purchase' then purchased_units_before end
            as key_units_purchased_before
    from key_totals
)

select * from final
