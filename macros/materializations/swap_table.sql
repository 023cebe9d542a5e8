{#
    swap_table: a table materialization that BI clients can query while it rebuilds.

    dbt-spark's `table` on Parquet drops the table and then recreates it, so a query arriving in between
    fails (table not found) or reads a half-written folder. Here every build writes a new, versioned table
    `internal_versions.<name>__v<UTC timestamp>`; `<schema>.<name>` is a view onto the newest version and is
    repointed with one metastore call (ALTER VIEW ... AS), so a reader sees either the old or the new data,
    never an error. The previous version is kept, so queries that resolved the old view still
    finish; older versions are dropped.

    Enable for the marts:  models: segmentation: marts: +materialized: swap_table
    Optional config: versions_schema (default `internal_versions`: one schema, named so that BI table
    browsers can hide it), keep_versions (default 2, min 2).
    A relation left as a plain table by an older build is replaced by the view once (not atomic that once).
#}
{% materialization swap_table, adapter='spark' %}
    {%- set identifier = model['alias'] -%}
    {%- set versions_schema = config.get('versions_schema', 'internal_versions') -%}
    {%- set keep_versions = [config.get('keep_versions', 2) | int, 2] | max -%}
    {%- set version_prefix = identifier ~ '__v' -%}
    {%- set version_id = version_prefix ~ modules.datetime.datetime.utcnow().strftime('%Y%m%d%H%M%S%f') -%}

    {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
    {%- set target_relation = api.Relation.create(database=database, schema=schema, identifier=identifier,
                                                  type='view') -%}
    {%- set version_relation = api.Relation.create(database=database, schema=versions_schema,
                                                   identifier=version_id, type='table') -%}

    {{ run_hooks(pre_hooks) }}

    {% do adapter.create_schema(api.Relation.create(database=database, schema=versions_schema)) %}

    {#- 1. The new data, fully written before anyone can see it. -#}
    {% call statement('main') -%}
        {{ create_table_as(False, version_relation, compiled_code) }}
    {%- endcall %}

    {#- 2. The documentation, on the version table: each documented column gets its comment (cut to the
         metastore's 256 characters by get_column_comment_sql). A view over `select *` carries its source's
         column comments, so BI tools see them on the public view. -#}
    {% if config.persist_column_docs() and model.columns %}
        {%- set version_columns = adapter.get_columns_in_relation(version_relation) | map(attribute='name') | list -%}
        {% for column_name in version_columns if (model.columns.get(column_name) or {}).get('description') %}
            {% call statement('comment_column_' ~ loop.index) -%}
                alter table {{ version_relation }} alter column {{ get_column_comment_sql(column_name, model.columns) }}
            {%- endcall %}
        {% endfor %}
    {% endif %}

    {#- 3. Point the public name at it in one metastore call: ALTER VIEW ... AS alters the view in place
         (CREATE OR REPLACE VIEW would drop and recreate it, and a query in between would not find it). -#}
    {%- set view_sql = 'select * from ' ~ version_relation -%}
    {% if existing is not none and existing.type == 'view' %}
        {% call statement('swap_view') -%}
            alter view {{ target_relation }} as {{ view_sql }}
        {%- endcall %}
        {% if config.persist_relation_docs() and model.description %}
            {% call statement('view_comment') -%}
                alter view {{ target_relation }} set tblproperties ('comment' = {{ swap_table_text(model.description) }})
            {%- endcall %}
        {% endif %}
    {% else %}
        {% if existing is not none %}
            {{ log("swap_table: replacing table " ~ existing ~ " by a view (one-time, not atomic)", info=True) }}
            {% do adapter.drop_relation(existing) %}
        {% endif %}
        {% call statement('swap_view') -%}
            create view {{ target_relation }} {{ comment_clause() }} as {{ view_sql }}
        {%- endcall %}
    {% endif %}

    {#- 4. Drop all but the newest keep_versions versions. -#}
    {% do drop_table_versions(versions_schema, version_prefix, keep_versions) %}

    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#
    Drop the versions `<versions_schema>.<version_prefix><20-digit UTC timestamp>` of a swap_table model,
    all but the newest `keep` (fixed-width timestamps sort as text). Listed with plain SQL: the version a
    swap_table build just wrote did not go through dbt's relation cache.
#}
{% macro drop_table_versions(versions_schema, version_prefix, keep) %}
    {% if execute %}
        {%- set schema_found = run_query("show databases like '" ~ versions_schema ~ "'") -%}
        {% if schema_found.rows | length > 0 %}
            {%- set listed = run_query("show tables in " ~ versions_schema ~ " like '" ~ version_prefix ~ "*'") -%}
            {%- set versions = [] -%}
            {% for row in listed.rows %}
                {%- set name = row['tableName'] -%}
                {% if name.startswith(version_prefix) and name[version_prefix | length:] | length == 20 %}
                    {% do versions.append(name) %}
                {% endif %}
            {% endfor %}
            {% for old in (versions | sort(reverse=True))[keep:] %}
                {% do adapter.drop_relation(api.Relation.create(schema=versions_schema, identifier=old,
                                                                type='table')) %}
            {% endfor %}
        {% endif %}
    {% endif %}
{% endmacro %}



{#- A description as a SQL string literal on one line (the view's comment). -#}
{% macro swap_table_text(text) -%}
    '{{ (text | replace('\n', ' ') | trim) | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
