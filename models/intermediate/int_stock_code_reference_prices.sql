{#
    One row per stock code that has a priced merchandise purchase line: the mode of unit_price over every
    kept merchandise purchase line with unit_price > 0, any customer (known or not) and any date (SPEC 4).
    A tie between prices goes to the lowest price. Used to impute UnitPrice = 0.
#}
with

priced_purchase_lines as (
    select
        stock_code,
        unit_price
    from {{ ref('int_transaction_lines_classified') }}
    where
        is_merchandise
        and line_kind = 'purchase'
        and unit_price > 0
),

price_counts as (
    select
        stock_code,
        unit_price,
        count(*) as line_count
    from priced_purchase_lines
    group by stock_code, unit_price
),

ranked as (
    select
        *,
        row_number() over (
            partition by stock_code
            order by line_count desc, unit_price asc
        ) as price_rank
    from price_counts
),

final as (
    select
        stock_code,
        unit_price as reference_unit_price,
        line_count as reference_line_count
    from ranked
    where price_rank = 1
)

select * from final
