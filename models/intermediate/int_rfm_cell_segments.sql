{#
    One row per R/F/M score cell (5 x 5 x 5 = 125): the named segment of SPEC 8. The first rule of the seed
    rfm_segment_rules in priority order whose ranges hold wins; no match gives 'Others'.
    Customers join this on their scores, so the rules are evaluated once per cell, not per customer.
#}
with

cells as (
    select * from {{ ref('int_rfm_score_cells') }}
),

rules as (
    select * from {{ ref('rfm_segment_rules') }}
),

matches as (
    select
        cells.r_score,
        cells.f_score,
        cells.m_score,
        rules.segment,
        rules.priority,
        row_number() over (
            partition by cells.r_score, cells.f_score, cells.m_score
            order by rules.priority
        ) as match_rank
    from cells
    left join rules
        on
            cells.r_score between rules.r_min and rules.r_max
            and cells.f_score between rules.f_min and rules.f_max
            and cells.m_score between rules.m_min and rules.m_max
),

final as (
    select
        concat(cast(r_score as string), cast(f_score as string), cast(m_score as string)) as rfm_cell,
        r_score,
        f_score,
        m_score,
        coalesce(segment, 'Others') as rfm_segment,
        priority as matched_rule_priority
    from matches
    where match_rank = 1
)

select * from final
