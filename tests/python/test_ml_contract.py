"""The ml.* tables have one definition, the dbt sources in models/staging/ml/_ml__sources.yml. The dbt macro
create_ml_tables_if_missing (so dbt never misses a source) and segmentation/ml_tables.py (what the ML step
writes) both read it; the tables each creates must read back as that definition."""

from __future__ import annotations

from segmentation import ml_tables
from segmentation.dbt import run_dbt

BACKUP_SUFFIX = "__contract_backup"


def _columns(spark, table: str) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in spark.table(table).schema.fields]


def test_dbt_macro_creates_the_tables_io_writes(spark, settings):
    # Start from a warehouse without the ml tables, so only the macro creates them; put back any that
    # other tests created.
    spark.sql("create database if not exists ml")
    moved = []
    for name in ml_tables.schemas():
        if spark.catalog.tableExists(f"ml.{name}"):
            spark.sql(f"drop table if exists ml.{name}{BACKUP_SUFFIX}")
            spark.sql(f"alter table ml.{name} rename to ml.{name}{BACKUP_SUFFIX}")
            moved.append(name)
    try:
        run_dbt(settings, ["run-operation", "create_ml_tables_if_missing"])
        assert set(ml_tables.schemas()) == {  # the ml tables the README lists
            "customer_clusters", "customer_cluster_history", "model_runs", "k_sweep", "cluster_centroids",
            "customer_predictions", "clv_model_params", "clv_backtest", "clv_calibration", "algorithm_comparison",
            "classifier_metrics", "classifier_confusion", "classifier_feature_importance"}
        for name, schema in ml_tables.schemas().items():
            expected = [(f.name, f.dataType.simpleString()) for f in schema.fields]
            assert _columns(spark, f"ml.{name}") == expected, name
            assert spark.table(f"ml.{name}").count() == 0
            # ml_tables' DDL string is what the ML step would create itself; it must read back the same way.
            assert ml_tables.ddl_columns(name) == ", ".join(f"`{n}` {t}" for n, t in expected)
    finally:
        for name in ml_tables.schemas():
            if name in moved:
                spark.sql(f"drop table if exists ml.{name}")
                spark.sql(f"alter table ml.{name}{BACKUP_SUFFIX} rename to ml.{name}")
