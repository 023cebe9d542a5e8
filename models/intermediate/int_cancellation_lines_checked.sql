{#
    One row per cancellation line in matching scope, with the two assumption checks of SPEC 5:
    - has_exact_counterpart: one-to-one greedy matching per (customer_id, stock_code, |quantity|) in key
      order: a cancellation line is matched when an earlier purchase line of the same customer, stock code
      and exact quantity is not yet taken (running-maximum form, counting lines instead of units);
    - is_invoice_independent: the cancellation invoice's in-scope lines all find a counterpart (same stock
      code, quantity = |cancelled quantity|) in one single purchase invoice of the customer dated no later.
    Both checks only look at keys (customer_id, stock_code, |quantity|) that have a cancellation line, a small
    share of the in-scope lines. A broadcast semi-join on a hash of the key drops the other lines as they are
    read, so the key-order sort and the invoice join do not shuffle and sort every in-scope line (measured in
    bench/results/HISTORY.md).
#}
with

in_scope_lines as (
    select
        line_id,
        invoice_no,
        customer_id,
        stock_code,
        line_kind,
        abs(quantity) as abs_quantity,
        unit_price,
        invoice_date,
        match_status,
        matched_units,
        unmatched_units,
        _source_file,
        _source_line,
        case when line_kind = 'purchase' then 0 else 1 end as kind_order,
        {# A 64-bit hash of the key keeps the broadcast small at any size (8 bytes per key with a cancellation).
           A collision only lets a few more lines through: the window and the join below use the key itself. #}
        xxhash64(customer_id, stock_code, abs(quantity)) as key_hash
    from {{ ref('int_transaction_lines_enriched') }}
    where is_in_matching_scope
),

cancellation_keys as (
    select distinct key_hash
    from in_scope_lines
    where line_kind = 'cancellation'
),

scoped_lines as (
    select /*+ broadcast(cancellation_keys) */ in_scope_lines.*
    from in_scope_lines
    left semi join cancellation_keys
        on in_scope_lines.key_hash = cancellation_keys.key_hash
),

counterpart_balance as (
    select
        *,
        sum(case when line_kind = 'cancellation' then 1 else -1 end) over exact_key_order as cancel_minus_purchase_lines
    from scoped_lines
    window exact_key_order as (
        partition by customer_id, stock_code, abs_quantity
        order by invoice_date, kind_order, invoice_no, unit_price, _source_file, _source_line
        rows between unbounded preceding and current row
    )
),

counterpart_peaks as (
    select
        *,
        greatest(0, max(cancel_minus_purchase_lines) over exact_key_order)
        - greatest(0, coalesce(max(cancel_minus_purchase_lines) over exact_key_order_before, 0))
            as unmatched_line
    from counterpart_balance
    window
        exact_key_order as (
            partition by customer_id, stock_code, abs_quantity
            order by invoice_date, kind_order, invoice_no, unit_price, _source_file, _source_line
            rows between unbounded preceding and current row
        ),
        exact_key_order_before as (
            partition by customer_id, stock_code, abs_quantity
            order by invoice_date, kind_order, invoice_no, unit_price, _source_file, _source_line
            rows between unbounded preceding and 1 preceding
        )
),

cancellation_lines as (
    select
        *,
        count(*) over (partition by invoice_no) as invoice_line_count
    from counterpart_peaks
    where line_kind = 'cancellation'
),

purchase_lines as (
    select
        invoice_no,
        customer_id,
        stock_code,
        abs_quantity,
        invoice_date
    from scoped_lines
    where line_kind = 'purchase'
),

invoice_candidates as (
    select
        cancellation_lines.invoice_no as cancellation_invoice_no,
        purchase_lines.invoice_no as purchase_invoice_no,
        max(cancellation_lines.invoice_line_count) as invoice_line_count,
        count(distinct cancellation_lines.line_id) as covered_line_count
    from cancellation_lines
    inner join purchase_lines
        on
            cancellation_lines.customer_id = purchase_lines.customer_id
            and cancellation_lines.stock_code = purchase_lines.stock_code
            and cancellation_lines.abs_quantity = purchase_lines.abs_quantity
            and cancellation_lines.invoice_date >= purchase_lines.invoice_date
    group by cancellation_lines.invoice_no, purchase_lines.invoice_no
),

independent_invoices as (
    select cancellation_invoice_no
    from invoice_candidates
    where covered_line_count = invoice_line_count
    group by cancellation_invoice_no
),

final as (
    select
        cancellation_lines.line_id,
        cancellation_lines.invoice_no,
        cancellation_lines.customer_id,
        cancellation_lines.stock_code,
        cancellation_lines.match_status,
        cancellation_lines.abs_quantity as cancelled_quantity,
        cancellation_lines.matched_units,
        cancellation_lines.unmatched_units,
        cancellation_lines.unmatched_line = 0 as has_exact_counterpart,
        independent_invoices.cancellation_invoice_no is not null as is_invoice_independent,
        cancellation_lines.invoice_date
    from cancellation_lines
    left join independent_invoices
        on cancellation_lines.invoice_no = independent_invoices.cancellation_invoice_no
)

select * from final
