{#
    The segment transitions between the last two calendar dates (the newest pair), with each row's share of
    its from-segment's customers: the transition matrix the report draws.
#}

with

transitions as (
    select * from {{ ref('segment_transitions') }}
    where to_date = (select max(newest.to_date) from {{ ref('segment_transitions') }} as newest)
)

select
    from_date,
    to_date,
    segment_kind,
    from_segment,
    to_segment,
    customers,
    round(customers / sum(customers) over (partition by segment_kind, from_segment), 6) as from_segment_share,
    from_monetary,
    to_monetary
from transitions
