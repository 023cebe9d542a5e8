{#
    One row per kept transaction line, with UnitPrice = 0 mode imputation (SPEC 4) and the analysis-window
    flag (SPEC 7). Only merchandise purchase lines with unit_price = 0 are imputed; every other line keeps
    effective_unit_price = unit_price.
    A view: int_transaction_lines_matched reads it once and materialises the lines, so every kept line is
    written once between staging and fct_order_lines (its data tests run on that table).
#}
with

classified_lines as (
    select * from {{ ref('int_transaction_lines_classified') }}
),

reference_prices as (
    select * from {{ ref('int_stock_code_reference_prices') }}
),

analysis_window as (
    select as_of_date from {{ ref('int_analysis_window') }}
),

final as (
    select
        classified.*,
        case
            when classified.is_merchandise and classified.line_kind = 'purchase' and classified.unit_price = 0
                then coalesce(reference_prices.reference_unit_price, 0)
            else classified.unit_price
        end as effective_unit_price,
        case
            when classified.is_merchandise and classified.line_kind = 'purchase' and classified.unit_price = 0
                then
                    case
                        when reference_prices.reference_unit_price is not null then 'imputed'
                        else 'no_reference_price'
                    end
            else 'not_applicable'
        end as price_imputation_status,
        coalesce(
            classified.is_merchandise and classified.line_kind = 'purchase' and classified.unit_price = 0
            and reference_prices.reference_unit_price is not null,
            false
        ) as is_price_imputed,
        classified.invoice_date < analysis_window.as_of_date as is_in_window
    from classified_lines as classified
    cross join analysis_window
    left join reference_prices
        on classified.stock_code = reference_prices.stock_code
)

select * from final
