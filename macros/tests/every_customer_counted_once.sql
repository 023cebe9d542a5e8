{#
    SPEC 10: in a transitions model (from_date, to_date, segment_kind, customers), every customer of to_date
    is counted exactly once per kind and pair: the customers of each (to_date, kind) add up to the history's
    customers of that kind at to_date. Fails with the pairs that do not add up.
    Arguments:
      history_model: the per-(as_of_date, customer) history, with rfm_segment and cluster_name.
#}
{% test every_customer_counted_once(model, history_model) %}
    with

    counted as (
        select
            to_date,
            segment_kind,
            sum(customers) as counted_customers
        from {{ model }}
        group by to_date, segment_kind
    ),

    expected as (
        select
            as_of_date as to_date,
            'rfm' as segment_kind,
            count(*) as expected_customers
        from {{ history_model }}
        group by as_of_date

        union all

        select
            as_of_date as to_date,
            'cluster' as segment_kind,
            count(*) as expected_customers
        from {{ history_model }}
        where cluster_name is not null
        group by as_of_date
    )

    select
        coalesce(counted.to_date, expected.to_date) as to_date,
        coalesce(counted.segment_kind, expected.segment_kind) as segment_kind,
        counted.counted_customers,
        expected.expected_customers
    from counted
    full outer join expected
        on counted.to_date = expected.to_date and counted.segment_kind = expected.segment_kind
    where
        coalesce(counted.counted_customers, 0) != coalesce(expected.expected_customers, 0)
        and coalesce(counted.to_date, expected.to_date) > (select min(as_of_date) from {{ history_model }})
{% endtest %}
