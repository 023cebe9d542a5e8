{#
    One row per R/F/M score combination: 5 x 5 x 5 = 125 cells, the domain the segment rules must cover.
#}
with

scores as (
    select explode(sequence(1, 5)) as score
),

final as (
    select
        r.score as r_score,
        f.score as f_score,
        m.score as m_score
    from scores as r
    cross join scores as f
    cross join scores as m
)

select * from final
