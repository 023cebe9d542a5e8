{#
    One row per kept transaction line (SPEC 3): merchandise flag from the seed non_merchandise_stock_codes,
    and the missing customer filled in from the invoice when the invoice's other lines carry exactly one
    distinct non-null customer_id (flagged is_customer_imputed).
#}
with

kept_lines as (
    select * from {{ ref('stg_online_retail__transaction_lines') }}
    where row_fate = 'kept'
),

non_merchandise_codes as (
    select distinct upper(trim(stock_code)) as stock_code
    from {{ ref('non_merchandise_stock_codes') }}
),

with_invoice_customers as (
    select
        kept_lines.*,
        {# Exactly one distinct non-null id on the invoice <=> its min and max agree. #}
        min(kept_lines.customer_id) over (partition by kept_lines.invoice_no) as invoice_min_customer_id,
        max(kept_lines.customer_id) over (partition by kept_lines.invoice_no) as invoice_max_customer_id
    from kept_lines
),

final as (
    select
        -- ids
        kept.line_id,
        kept.invoice_no,
        kept.stock_code,
        coalesce(
            kept.customer_id,
            case
                when kept.invoice_min_customer_id = kept.invoice_max_customer_id
                    then kept.invoice_min_customer_id
            end
        ) as customer_id,

        -- text
        kept.description,
        kept.country,
        kept.line_kind,

        -- numbers
        kept.quantity,
        kept.unit_price,

        -- booleans
        non_merchandise_codes.stock_code is null as is_merchandise,
        kept.customer_id is null
        and kept.invoice_min_customer_id is not null
        and kept.invoice_min_customer_id = kept.invoice_max_customer_id as is_customer_imputed,

        -- timestamps
        kept.invoice_date,

        -- lineage
        kept._source_file,
        kept._source_line
    from with_invoice_customers as kept
    left join non_merchandise_codes
        on kept.stock_code = non_merchandise_codes.stock_code
)

select * from final
