"""The ml.* tables have one definition in two places: the dbt macro create_ml_tables_if_missing (so dbt
never misses a source) and segmentation/clustering/io.py (what the ML step writes). They must agree."""

from __future__ import annotations

from segmentation.clustering import io
from segmentation.dbt import run_dbt

BACKUP_SUFFIX = "__contract_backup"


def _columns(spark, table: str) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in spark.table(table).schema.fields]


def test_dbt_macro_creates_the_tables_io_writes(spark, settings):
    # Start from a warehouse without the ml tables, so only the macro creates them; put back any that
    # other tests created.
    spark.sql("create database if not exists ml")
    moved = []
    for name in io.ML_TABLES:
        if spark.catalog.tableExists(f"ml.{name}"):
            spark.sql(f"drop table if exists ml.{name}{BACKUP_SUFFIX}")
            spark.sql(f"alter table ml.{name} rename to ml.{name}{BACKUP_SUFFIX}")
            moved.append(name)
    try:
        run_dbt(settings, ["run-operation", "create_ml_tables_if_missing"])
        for name, schema in io.ML_TABLES.items():
            expected = [(f.name, f.dataType.simpleString()) for f in schema.fields]
            assert _columns(spark, f"ml.{name}") == expected, name
            assert spark.table(f"ml.{name}").count() == 0
            # io's DDL string is what it would create itself; it must read back the same way.
            assert io.ddl_columns(schema) == ", ".join(f"{n} {t}" for n, t in expected)
    finally:
        for name in io.ML_TABLES:
            if name in moved:
                spark.sql(f"drop table if exists ml.{name}")
                spark.sql(f"alter table ml.{name}{BACKUP_SUFFIX} rename to ml.{name}")
