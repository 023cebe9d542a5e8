{#
    SPEC 8: each of the 125 R/F/M cells maps to exactly one segment: the matching rule with the lowest
    priority number, or Others when no rule matches. Recomputed here independently of the model
    (with min_by instead of a window), returns cells whose segment differs.
#}
with

cells as (
    select * from {{ ref('int_rfm_cell_segments') }}
),

rules as (
    select * from {{ ref('rfm_segment_rules') }}
),

expected as (
    select
        cells.rfm_cell,
        coalesce(min_by(rules.segment, rules.priority), 'Others') as expected_segment
    from cells
    left join rules
        on
            cells.r_score between rules.r_min and rules.r_max
            and cells.f_score between rules.f_min and rules.f_max
            and cells.m_score between rules.m_min and rules.m_max
    group by cells.rfm_cell
)

select
    cells.rfm_cell,
    cells.rfm_segment,
    expected.expected_segment
from cells
left join expected
    on cells.rfm_cell = expected.rfm_cell
where expected.expected_segment is null or cells.rfm_segment != expected.expected_segment
