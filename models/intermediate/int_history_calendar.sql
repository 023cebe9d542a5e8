{#
    One row per as-of date of the segment history (SPEC 10), oldest first, the run's as-of date last: by
    default the first day of every month after the first kept invoice and before the run's as-of date; or
    the dates of var history_dates; or every week or month from var history_start (macros/history_calendar.sql).
    previous_as_of_date links each date to the one before it (null for the first), for the transitions.
#}
{%- set calendar = history_calendar_settings() %}
with

analysis_window as (
    select
        as_of_date,
        first_invoice_date
    from {{ ref('int_analysis_window') }}
),

candidate_dates as (
    {% if calendar.rule == 'dates' -%}
        select explode(array({% for d in calendar.dates %}date'{{ d }}'{{ ', ' if not loop.last }}{% endfor %})) as as_of_date
    {%- elif calendar.rule == 'step' -%}
        select explode(
            case
                when date'{{ calendar.start }}' < analysis_window.as_of_date
                    then sequence(date'{{ calendar.start }}', analysis_window.as_of_date, interval 1 {{ calendar.step }})
                else array()
            end
        ) as as_of_date
        from analysis_window
    {%- elif calendar.rule == 'monthly' -%}
        select
            explode(
                case
                    when add_months(trunc(analysis_window.first_invoice_date, 'MM'), 1) < analysis_window.as_of_date
                        then
                            sequence(
                                add_months(trunc(analysis_window.first_invoice_date, 'MM'), 1),
                                analysis_window.as_of_date,
                                interval 1 month
                            )
                    else array()
                end
            ) as as_of_date
        from analysis_window
    {%- else -%}
        select cast(null as date) as as_of_date
    {%- endif %}
),

calendar_dates as (
    {# Generated dates stop before the run's date; given ones are kept as given, so that the data tests
       name a date after the run's as-of date or before the first purchase instead of dropping it. #}
    select candidate_dates.as_of_date
    from candidate_dates
    cross join analysis_window
    where
        candidate_dates.as_of_date is not null
        and ({{ calendar.rule == 'dates' }} or candidate_dates.as_of_date < analysis_window.as_of_date)

    union

    select as_of_date from analysis_window
),

final as (
    select
        calendar_dates.as_of_date,
        -- partitioned by the one-row window's date: one partition, without Spark's single-partition warning
        lag(calendar_dates.as_of_date) over (
            partition by analysis_window.as_of_date order by calendar_dates.as_of_date
        ) as previous_as_of_date,
        calendar_dates.as_of_date = analysis_window.as_of_date as is_run_as_of_date,
        '{{ calendar.rule }}' as calendar_rule,
        analysis_window.first_invoice_date
    from calendar_dates
    cross join analysis_window
)

select * from final
