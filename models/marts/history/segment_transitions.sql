{#
    One row per (consecutive pair of calendar dates, segment kind, from segment, to segment) (SPEC 10): the
    customers who moved from one segment at from_date to another (or the same) at to_date, and their summed
    monetary at both dates. A customer of to_date who was not a customer at from_date comes from
    'New to file' (monetary 0 there). Every customer of to_date is counted exactly once per kind and pair;
    customers never leave the file (a customer of a date is one at every later date).
#}

with

calendar as (
    select
        previous_as_of_date as from_date,
        as_of_date as to_date
    from {{ ref('history_calendar') }}
    where previous_as_of_date is not null
),

customer_segments as (
    select
        as_of_date,
        customer_id,
        'rfm' as segment_kind,
        rfm_segment as segment,
        monetary
    from {{ ref('customer_segment_history') }}

    union all

    select
        as_of_date,
        customer_id,
        'cluster' as segment_kind,
        cluster_name as segment,
        monetary
    from {{ ref('customer_segment_history') }}
    where cluster_name is not null
),

moves as (
    select /*+ broadcast(calendar) */
        calendar.from_date,
        calendar.to_date,
        arrived.segment_kind,
        coalesce(departed.segment, 'New to file') as from_segment,
        arrived.segment as to_segment,
        coalesce(departed.monetary, 0) as from_monetary,
        arrived.monetary as to_monetary
    from customer_segments as arrived
    inner join calendar
        on arrived.as_of_date = calendar.to_date
    left join customer_segments as departed
        on
            calendar.from_date = departed.as_of_date
            and arrived.customer_id = departed.customer_id
            and arrived.segment_kind = departed.segment_kind
),

final as (
    select
        -- dates
        from_date,
        to_date,

        -- text
        segment_kind,
        from_segment,
        to_segment,

        -- numbers
        count(*) as customers,
        sum(from_monetary) as from_monetary,
        sum(to_monetary) as to_monetary
    from moves
    group by from_date, to_date, segment_kind, from_segment, to_segment
)

select * from final
