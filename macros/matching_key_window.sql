{#
    SPEC 5 key order for cancellation matching: within (customer_id, stock_code), by invoice_date,
    purchases before cancellations at the same timestamp, then invoice_no, |quantity| and unit_price
    (source position last, which only orders identical lines).
    Arguments:
      frame: the window frame, e.g. 'rows between unbounded preceding and current row'.
      kind_order: an expression that is 0 for purchases and 1 for cancellations.
    The partition leads with is_in_matching_scope so that lines out of scope never share a key's window
    with lines in scope (int_transaction_lines_matched windows over all lines in one pass).
#}
{% macro matching_key_window(frame, kind_order='kind_order') -%}
    partition by is_in_matching_scope, customer_id, stock_code
    order by invoice_date, {{ kind_order }}, invoice_no, abs(quantity), unit_price, _source_file, _source_line
    {{ frame }}
{%- endmacro %}
