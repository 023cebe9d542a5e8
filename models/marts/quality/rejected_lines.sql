{#
    One row per rejected raw row (SPEC 2, fate "rejected"), with the reason and the raw text of the typed
    columns, so that every rejected value can be traced back to its file and line. A mart: data stewards
    read it; staging stays a one-model layer per source.
#}
with

transaction_lines as (
    select * from {{ ref('stg_online_retail__transaction_lines') }}
),

renamed as (
    select
        -- ids
        transaction_lines.line_id,

        -- text
        transaction_lines.reject_reason,
        transaction_lines.rejected_raw_values.invoice_no as raw_invoice_no,
        transaction_lines.rejected_raw_values.stock_code as raw_stock_code,
        transaction_lines.description as raw_description,
        transaction_lines.rejected_raw_values.quantity as raw_quantity,
        transaction_lines.rejected_raw_values.invoice_date as raw_invoice_date,
        transaction_lines.rejected_raw_values.unit_price as raw_unit_price,
        transaction_lines.rejected_raw_values.customer_id as raw_customer_id,
        transaction_lines.country as raw_country,

        -- lineage
        transaction_lines._source_file,
        transaction_lines._source_line,
        transaction_lines._loaded_at
    from transaction_lines
    where transaction_lines.row_fate = 'rejected'
)

select * from renamed
