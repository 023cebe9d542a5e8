"""Small aggregate queries behind the report. Every chart reads a warehouse table (or an aggregate of one
that a BI user can run too); only the aggregated result, at most a few hundred rows, reaches pandas."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import SparkSession


class Unavailable(Exception):
    """A chart's source table is missing or empty; the report shows the reason instead of the chart."""


def table_exists(spark: SparkSession, name: str) -> bool:
    return spark.catalog.tableExists(name)


def query(spark: SparkSession, sql: str, *, tables: tuple[str, ...], what: str) -> pd.DataFrame:
    """Run an aggregate query; raise Unavailable (with a reason a reader understands) when a source
    table is missing or the result is empty."""
    missing = [t for t in tables if not table_exists(spark, t)]
    if missing:
        raise Unavailable(f"{what}: not available ({', '.join(missing)} does not exist yet)")
    frame = spark.sql(sql).toPandas()
    if frame.empty:
        raise Unavailable(f"{what}: not available ({', '.join(tables)} has no rows yet)")
    return frame


def scalar(spark: SparkSession, sql: str, tables: tuple[str, ...]) -> object | None:
    if not all(table_exists(spark, t) for t in tables):
        return None
    row = spark.sql(sql).first()
    return None if row is None else row[0]


def latest_cluster_run(spark: SparkSession) -> str | None:
    """The clustering run the marts were built from (dim_customers), else the latest run in ml.model_runs."""
    run_id = scalar(spark, "select max(cluster_run_id) from marts.dim_customers", ("marts.dim_customers",))
    if run_id:
        return str(run_id)
    latest = scalar(
        spark,
        "select run_id from ml.model_runs order by run_at desc, run_id desc limit 1",
        ("ml.model_runs",),
    )
    return None if latest is None else str(latest)


def latest_run(spark: SparkSession, table: str, time_column: str) -> str | None:
    latest = scalar(
        spark, f"select run_id from {table} order by {time_column} desc, run_id desc limit 1", (table,)
    )
    return None if latest is None else str(latest)


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
