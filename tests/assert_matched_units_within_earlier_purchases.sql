{#
    SPEC 5 invariant: at every point of a key's history, the units matched so far never exceed the units
    purchased so far (a cancellation only absorbs earlier purchases). The key order is written out here
    from SPEC 5, not taken from the model's macro, so an ordering bug in the model cannot hide in both.
    Returns violating lines.
#}
with

scoped_lines as (
    select
        customer_id,
        stock_code,
        _source_file,
        _source_line,
        sum(case when line_kind = 'purchase' then quantity else 0 end) over key_order as purchased_so_far,
        sum(coalesce(matched_units, 0)) over key_order as matched_so_far
    from {{ ref('int_transaction_lines_matched') }}
    where is_in_matching_scope
    window key_order as (
        partition by customer_id, stock_code
        order by
            invoice_date,
            case when line_kind = 'purchase' then 0 else 1 end,
            invoice_no,
            abs(quantity),
            unit_price,
            _source_file,
            _source_line
        rows between unbounded preceding and current row
    )
)

select * from scoped_lines
where matched_so_far > purchased_so_far
