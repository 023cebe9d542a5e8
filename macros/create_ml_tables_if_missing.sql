{#
    on-run-start hook: create the ml schema's tables, empty, when they are missing, so that a plain
    `dbt build` never fails on a missing source before the ML step has ever run. The tables and their
    columns come from the ml source declaration (models/staging/ml/_ml__sources.yml), the one definition the
    ML step reads too (ml/segmentation/ml_tables.py). Also creates the raw schema the ingest writes.
#}
{% macro create_ml_tables_if_missing() %}
    {% if execute %}
        {% do run_query("create database if not exists ml") %}
        {% do run_query("create database if not exists raw") %}
        {% for source in graph.sources.values() if source.source_name == 'ml' %}
            {%- set columns = [] -%}
            {% for column in source.columns.values() %}
                {% do columns.append('`' ~ column.name ~ '` ' ~ column.data_type) %}
            {% endfor %}
            {% do run_query(
                "create table if not exists ml." ~ source.name ~ " (" ~ columns | join(', ') ~ ") using parquet"
            ) %}
        {% endfor %}
    {% endif %}
{% endmacro %}
