"""Reading the report's marts. Every chart reads one dbt model (marts.report_* or a mart a BI user reads
too) whole, through the DataFrame API: the models hold the aggregates and the choice of the latest run, so
the report computes nothing, and each table is small (a few hundred rows at most)."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import SparkSession


class Unavailable(Exception):
    """A chart's source table is missing or empty; the report shows the reason instead of the chart."""


def table_exists(spark: SparkSession, name: str) -> bool:
    return spark.catalog.tableExists(name)


def read(spark: SparkSession, table: str, what: str, where: str | None = None) -> pd.DataFrame:
    """The table (optionally filtered), or Unavailable with a reason a reader understands."""
    if not table_exists(spark, table):
        raise Unavailable(f"{what}: not available ({table} does not exist yet)")
    frame = spark.table(table)
    if where:
        frame = frame.where(where)
    result = frame.toPandas()
    if result.empty:
        raise Unavailable(f"{what}: not available ({table} has no rows yet)")
    return result
