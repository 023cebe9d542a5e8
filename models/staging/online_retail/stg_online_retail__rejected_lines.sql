{#
    One row per rejected raw row (SPEC 2, fate "rejected"), with the reason and the raw text of the typed
    columns, so that every rejected value can be traced back to its file and line.
#}
with

transaction_lines as (
    select * from {{ ref('stg_online_retail__transaction_lines') }}
),

renamed as (
    select
        -- ids
        line_id,

        -- text
        reject_reason,
        rejected_raw_values.invoice_no as raw_invoice_no,
        rejected_raw_values.stock_code as raw_stock_code,
        description as raw_description,
        rejected_raw_values.quantity as raw_quantity,
        rejected_raw_values.invoice_date as raw_invoice_date,
        rejected_raw_values.unit_price as raw_unit_price,
        rejected_raw_values.customer_id as raw_customer_id,
        country as raw_country,

        -- lineage
        _source_file,
        _source_line,
        _loaded_at
    from transaction_lines
    where row_fate = 'rejected'
)

select * from renamed
