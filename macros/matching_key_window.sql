{#
    SPEC 5 key order for cancellation matching: within (customer_id, stock_code), by invoice_date,
    purchases before cancellations at the same timestamp, then invoice_no, |quantity| and unit_price
    (source position last, which only orders identical lines).
    Arguments:
      frame: the window frame, e.g. 'rows between unbounded preceding and current row'.
      kind_order: an expression that is 0 for purchases and 1 for cancellations.
#}
{% macro matching_key_window(frame, kind_order='kind_order') -%}
    partition by customer_id, stock_code
    order by invoice_date, {{ kind_order }}, invoice_no, abs(quantity), unit_price, _source_file, _source_line
    {{ frame }}
{%- endmacro %}
