{#
    The seed rfm_segment_rules is the SPEC 8 table: priority, segment and the R, F, M ranges, written out
    here from SPEC.md so that an edited seed (two priorities swapped, a range off by one) fails the build.
    Returns the rows of either side that the other lacks.
#}
with

spec_8 as (
    select *
    from values
        (1, 'Champions', 5, 5, 5, 5, 5, 5),
        (2, 'Potential Loyalist', 3, 5, 3, 5, 2, 5),
        (3, 'Loyal Customers', 2, 4, 2, 4, 2, 4),
        (4, 'Promising', 3, 4, 1, 3, 3, 5),
        (5, 'New Customers', 4, 5, 1, 3, 1, 5),
        (6, 'Can\'t Lose Them', 1, 2, 3, 4, 4, 5),
        (7, 'At Risk', 1, 2, 2, 5, 4, 5),
        (8, 'Need Attention', 1, 3, 3, 5, 3, 5),
        (9, 'About To Sleep', 2, 3, 1, 3, 1, 4),
        (10, 'Lost', 1, 1, 1, 5, 1, 5)
        as spec (priority, segment, r_min, r_max, f_min, f_max, m_min, m_max)
),

seeded as (
    select
        priority,
        segment,
        r_min,
        r_max,
        f_min,
        f_max,
        m_min,
        m_max
    from {{ ref('rfm_segment_rules') }}
),

missing_from_seed as (
    select 'in SPEC 8, not in the seed' as difference, * from (select * from spec_8 except select * from seeded)
),

not_in_spec as (
    select 'in the seed, not in SPEC 8' as difference, * from (select * from seeded except select * from spec_8)
)

select * from missing_from_seed
union all
select * from not_in_spec
