{#
    on-run-start hook: create the ml schema's output tables, empty, when they are missing, so that
    a plain `dbt build` never fails on a missing source before the ML step has ever run.
    The column lists are the contract the ml/ step writes (segmentation/clustering/io.py);
    tests/python/test_ml_contract.py checks that both agree.
#}
{% macro create_ml_tables_if_missing() %}
    {% if execute %}
        {% do run_query("create database if not exists ml") %}
        {% do run_query("create database if not exists raw") %}
        {% for table_name, columns in ml_table_columns().items() %}
            {% do run_query(
                "create table if not exists ml." ~ table_name ~ " (" ~ columns ~ ") using parquet"
            ) %}
        {% endfor %}
    {% endif %}
{% endmacro %}

{% macro ml_table_columns() %}
    {{ return({
        "customer_clusters": "run_id string, customer_id string, cluster_id int, cluster_name string, algorithm string, k int, assigned_at timestamp",
        "cluster_centroids": "run_id string, cluster_id int, cluster_name string, customers bigint, recency_days double, frequency double, monetary double, scaled_recency double, scaled_frequency double, scaled_monetary double",
        "model_runs": "run_id string, run_at timestamp, as_of_date date, algorithm string, k int, k_rule string, seed int, silhouette double, cost double, customers bigint, parameters string, model_path string",
        "k_sweep": "run_id string, algorithm string, k int, cost double, silhouette double, is_chosen boolean",
    }) }}
{% endmacro %}
