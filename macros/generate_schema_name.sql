{#
    Clean schema names: a model configured with +schema: marts lands in `marts`, not `<target>_marts`.
    The analysts' SQL and the BI tools name raw, staging, intermediate, marts and ml directly.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
