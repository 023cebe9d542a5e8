{#
    The calendar of as-of dates for the segment history (SPEC 10), from the dbt vars:
      history_dates: a list of YYYY-MM-DD dates, strictly increasing;
      history_start (YYYY-MM-DD) and history_step (week or month): every step from the start;
      neither: monthly, the first day of every month after the first kept invoice.
    The run's as-of date always ends the calendar. Malformed, duplicated or out-of-order dates fail at compile
    time, before any table is touched; `segmentation run` checks the same before its ingest (pipeline.py).
    With rfm_use_capped_values the history cannot be exact at earlier dates (their outlier fences would come
    from shorter windows), so it holds the run's as-of date only, and a calendar given with it is refused.
    Returns the validated settings as a dict: rule (monthly, dates, step), dates, start, step.
#}
{% macro history_calendar_settings() %}
    {%- set dates = var('history_dates', none) -%}
    {%- set start = var('history_start', none) -%}
    {%- set step = var('history_step', none) -%}
    {%- if dates is string -%}
        {%- set dates = dates.split(',') | map('trim') | list -%}
    {%- endif -%}
    {%- if dates and start -%}
        {{ exceptions.raise_compiler_error("give history_dates or history_start, not both") }}
    {%- endif -%}
    {%- if var('rfm_use_capped_values', false) and (dates or start) -%}
        {{ exceptions.raise_compiler_error(
            "rfm_use_capped_values: the history cannot use capped values at earlier dates (each date's "
            ~ "outlier fences would come from a shorter window), so it holds the run's as-of date only; "
            ~ "drop history_dates/history_start or rfm_use_capped_values") }}
    {%- endif -%}
    {%- if dates -%}
        {%- set previous = namespace(value='') -%}
        {%- for date in dates -%}
            {%- if not is_calendar_date(date) -%}
                {{ exceptions.raise_compiler_error("history_dates: " ~ date ~ " is not a YYYY-MM-DD date") }}
            {%- endif -%}
            {%- if (date | string) <= previous.value -%}
                {{ exceptions.raise_compiler_error(
                    "history_dates: " ~ date ~ " is not after " ~ previous.value ~ " (dates must be strictly increasing)") }}
            {%- endif -%}
            {%- set previous.value = date | string -%}
        {%- endfor -%}
        {{ return({'rule': 'dates', 'dates': dates | map('string') | list, 'start': none, 'step': none}) }}
    {%- endif -%}
    {%- if start -%}
        {%- if not is_calendar_date(start) -%}
            {{ exceptions.raise_compiler_error("history_start: " ~ start ~ " is not a YYYY-MM-DD date") }}
        {%- endif -%}
        {%- if (step or 'month') not in ['week', 'month'] -%}
            {{ exceptions.raise_compiler_error("history_step must be week or month, got: " ~ step) }}
        {%- endif -%}
        {{ return({'rule': 'step', 'dates': [], 'start': start | string, 'step': step or 'month'}) }}
    {%- endif -%}
    {%- if step -%}
        {{ exceptions.raise_compiler_error("history_step needs history_start") }}
    {%- endif -%}
    {{ return({'rule': 'as_of_only' if var('rfm_use_capped_values', false) else 'monthly', 'dates': [], 'start': none, 'step': none}) }}
{% endmacro %}


{#- True when `text` is YYYY-MM-DD and a day of the calendar (2011-02-30 is not). -#}
{% macro is_calendar_date(text) %}
    {%- set text = text | string -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set year, month, day = text[0:4] | int, text[5:7] | int, text[8:10] | int -%}
    {%- if month < 1 or month > 12 or day < 1 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set next_month = modules.datetime.date(year + 1, 1, 1) if month == 12 else modules.datetime.date(year, month + 1, 1) -%}
    {{ return(day <= (next_month - modules.datetime.timedelta(days=1)).day) }}
{% endmacro %}
