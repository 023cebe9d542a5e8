{#
    One row per raw row of raw.transactions, typed and normalised, with its fate (SPEC 1-3).
    row_fate: rejected (cannot be typed, or a value no analyst would keep; reject_reason says why, checked in
    the order of the seed reject_reasons), duplicate (same eight typed columns as an earlier kept row, source
    order = file, line), or kept. Materialised as a table: every later model reads it, and the raw text is
    scanned once. Choices beyond SPEC 2 (numeric forms, the extra reasons): docs/spec_decisions.md.
#}
{{ config(materialized='table') }}

with

source as (
    select * from {{ source('online_retail', 'transactions') }}
),

trimmed as (
    select
        _source_file,
        _source_line,
        _loaded_at,
        nullif(trim(invoice_no), '') as raw_invoice_no,
        nullif(trim(stock_code), '') as raw_stock_code,
        nullif(trim(description), '') as raw_description,
        nullif(trim(quantity), '') as raw_quantity,
        nullif(trim(invoice_date), '') as raw_invoice_date,
        nullif(trim(unit_price), '') as raw_unit_price,
        nullif(trim(customer_id), '') as raw_customer_id,
        nullif(trim(country), '') as raw_country
    from source
),

typed as (
    select
        *,
        {{ normalise_numeric_code('upper(raw_invoice_no)') }} as invoice_no,
        upper(raw_stock_code) as stock_code,
        {{ parse_whole_number('raw_quantity') }} as quantity,
        {{ parse_invoice_date('raw_invoice_date') }} as invoice_date,
        {{ parse_decimal_number('raw_unit_price') }} as unit_price,
        {{ parse_customer_id('raw_customer_id') }} as customer_id,
        {{ is_header_row('raw_invoice_no', 'raw_stock_code', 'raw_quantity') }} as is_repeated_header
    from trimmed
),

with_reject_reason as (
    select
        *,
        case
            when is_repeated_header then 'repeated_header'
            when invoice_no is null then 'missing_invoice_no'
            when stock_code is null then 'missing_stock_code'
            when quantity is null then 'bad_quantity'
            when invoice_date is null then 'bad_invoice_date'
            when unit_price is null then 'bad_unit_price'
            when unit_price < 0 and invoice_no not like 'C%' and invoice_no not like 'A%' and quantity > 0
                then 'negative_unit_price'
            when raw_customer_id is not null and customer_id is null then 'bad_customer_id'
        end as reject_reason
    from typed
),

{# The raw text of rejected rows is kept for tracing, null otherwise. Packed before the duplicate sort,
   so that sort carries one null per kept row instead of six raw strings. #}
with_rejected_raw_values as (
    select
        _source_file,
        _source_line,
        _loaded_at,
        invoice_no,
        stock_code,
        customer_id,
        raw_description,
        raw_country,
        quantity,
        unit_price,
        invoice_date,
        reject_reason,
        case
            when reject_reason is not null
                then
                    named_struct(
                        'invoice_no', raw_invoice_no,
                        'stock_code', raw_stock_code,
                        'quantity', raw_quantity,
                        'invoice_date', raw_invoice_date,
                        'unit_price', raw_unit_price,
                        'customer_id', raw_customer_id
                    )
        end as rejected_raw_values
    from with_reject_reason
),

with_occurrence as (
    select
        *,
        {# Rejected rows always carry a null typed key column, so they never share a partition with kept rows. #}
        row_number() over first_occurrence as occurrence_number,
        {# Several files of one shop overlap (the two UCI files share 2010-12-01..09): a duplicate whose first
           occurrence is in another file counts as such in the quality mart. #}
        first(_source_file) over first_occurrence as first_occurrence_file
    from with_rejected_raw_values
    window first_occurrence as (
        partition by
            invoice_no, stock_code, raw_description, quantity,
            invoice_date, unit_price, customer_id, raw_country
        order by _source_file, _source_line
    )
),

renamed as (
    select
        -- ids
        {{ source_line_id() }} as line_id,
        invoice_no,
        stock_code,
        customer_id,

        -- text
        raw_description as description,
        raw_country as country,
        case
            when reject_reason is not null then 'rejected'
            when occurrence_number > 1 then 'duplicate'
            else 'kept'
        end as row_fate,
        reject_reason,
        case
            when reject_reason is not null then null
            when invoice_no like 'C%' then 'cancellation'
            when invoice_no like 'A%' then 'adjustment'
            when quantity > 0 then 'purchase'
            else 'stock_adjustment'
        end as line_kind,

        -- numbers
        quantity,
        unit_price,

        -- booleans
        reject_reason is null and occurrence_number > 1 and first_occurrence_file != _source_file
            as is_duplicate_of_another_file,

        -- timestamps
        invoice_date,
        _loaded_at,

        -- lineage
        _source_file,
        _source_line,
        rejected_raw_values
    from with_occurrence
)

select * from renamed
