{#
    Override of dbt-spark's column comment for views with persist_docs: the description cut to the Hive
    metastore's 256 characters (a longer comment makes the metastore retry for 20 s and then store the table
    in a format only Spark reads) and on one line. The full text stays in dbt's docs.
#}
{% macro get_column_comment_sql(column_name, column_dict) -%}
    {%- set description = (column_dict.get(column_name) or {}).get('description') or '' -%}
    {%- set text = description | replace('\n', ' ') | trim -%}
    {%- if text | length > 255 -%}{%- set text = text[:252] ~ '...' -%}{%- endif -%}
    {{ adapter.quote(column_name) }}{% if text %} comment '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'{% endif %}
{%- endmacro %}
