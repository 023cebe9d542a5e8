{#
    One row per kept transaction line: matching results plus outlier handling (SPEC 6) and the line's
    revenue contribution to RFM monetary (SPEC 7). Fences come from int_outlier_fences; only merchandise
    purchase lines are capped or flagged. net_revenue is what monetary sums: quantity * effective_unit_price
    on in-scope purchase lines, minus matched_units * unit_price on in-scope cancellation lines, 0 elsewhere
    (unmatched cancelled units are dropped from every measure).
#}
with

matched_lines as (
    select * from {{ ref('int_transaction_lines_matched') }}
),

fences as (
    {# An aggregate without group by always yields one row, so an empty fence table gives null fences. #}
    select
        max(case when measure_name = 'quantity' then lower_fence end) as quantity_lower_fence,
        max(case when measure_name = 'quantity' then upper_fence end) as quantity_upper_fence,
        max(case when measure_name = 'effective_unit_price' then lower_fence end) as unit_price_lower_fence,
        max(case when measure_name = 'effective_unit_price' then upper_fence end) as unit_price_upper_fence
    from {{ ref('int_outlier_fences') }}
),

capped as (
    select
        matched_lines.*,
        matched_lines.is_merchandise and matched_lines.line_kind = 'purchase' as is_merchandise_purchase,
        case
            when matched_lines.is_merchandise and matched_lines.line_kind = 'purchase'
                then
                    least(
                        greatest(cast(matched_lines.quantity as double), fences.quantity_lower_fence),
                        fences.quantity_upper_fence
                    )
            else cast(matched_lines.quantity as double)
        end as quantity_capped,
        case
            when matched_lines.is_merchandise and matched_lines.line_kind = 'purchase'
                then
                    least(
                        greatest(matched_lines.effective_unit_price, fences.unit_price_lower_fence),
                        fences.unit_price_upper_fence
                    )
            else matched_lines.effective_unit_price
        end as unit_price_capped,
        coalesce(
            matched_lines.is_merchandise and matched_lines.line_kind = 'purchase'
            and (
                matched_lines.quantity < fences.quantity_lower_fence
                or matched_lines.quantity > fences.quantity_upper_fence
            ),
            false
        ) as is_quantity_outlier,
        coalesce(
            matched_lines.is_merchandise and matched_lines.line_kind = 'purchase'
            and (
                matched_lines.effective_unit_price < fences.unit_price_lower_fence
                or matched_lines.effective_unit_price > fences.unit_price_upper_fence
            ),
            false
        ) as is_unit_price_outlier
    from matched_lines
    cross join fences
),

final as (
    {# Revenue is rounded per line to 6 decimals and held as decimal, so sums are exact and independent of
       row order: a double sum could round a x.xx5 total either way. #}
    select
        *,
        is_quantity_outlier or is_unit_price_outlier as is_outlier,
        cast(case when is_merchandise_purchase then quantity * effective_unit_price else 0 end as decimal(38, 6))
            as gross_revenue,
        case
            when is_in_matching_scope and line_kind = 'purchase' then quantity
            when is_in_matching_scope and line_kind = 'cancellation' then -matched_units
            else cast(0 as bigint)
        end as net_quantity,
        cast(
            case
                when is_in_matching_scope and line_kind = 'purchase' then quantity * effective_unit_price
                when is_in_matching_scope and line_kind = 'cancellation' then -matched_units * unit_price
                else 0
            end as decimal(38, 6)
        ) as net_revenue,
        cast(
            case
                when is_in_matching_scope and line_kind = 'purchase' then quantity_capped * unit_price_capped
                when is_in_matching_scope and line_kind = 'cancellation' then -matched_units * unit_price
                else 0
            end as decimal(38, 6)
        ) as net_revenue_capped
    from capped
)

select * from final
