"""The classifier's output tables in the ml schema. Every run appends rows tagged with its run_id, so the
report (and a BI user) reads the latest run with `where run_id = <latest>`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _schema(*columns: tuple[str, DataType]) -> StructType:
    return StructType([StructField(name, dtype, True) for name, dtype in columns])


CLASSIFIER_METRICS = _schema(
    ("run_id", StringType()),
    ("target", StringType()),
    ("model", StringType()),
    ("accuracy", DoubleType()),
    ("weighted_precision", DoubleType()),
    ("weighted_recall", DoubleType()),
    ("f1", DoubleType()),
    ("baseline_accuracy", DoubleType()),
    ("baseline_f1", DoubleType()),
    ("cv_f1", DoubleType()),
    ("train_customers", LongType()),
    ("test_customers", LongType()),
    ("classes", LongType()),
    ("is_best", BooleanType()),
    ("params", StringType()),
    ("trained_at", TimestampType()),
)
CLASSIFIER_CONFUSION = _schema(
    ("run_id", StringType()),
    ("target", StringType()),
    ("model", StringType()),
    ("actual", StringType()),
    ("predicted", StringType()),
    ("count", LongType()),
)
CLASSIFIER_FEATURE_IMPORTANCE = _schema(
    ("run_id", StringType()),
    ("target", StringType()),
    ("model", StringType()),
    ("feature", StringType()),
    ("importance", DoubleType()),
)
CLASSIFIER_TABLES: dict[str, StructType] = {
    "classifier_metrics": CLASSIFIER_METRICS,
    "classifier_confusion": CLASSIFIER_CONFUSION,
    "classifier_feature_importance": CLASSIFIER_FEATURE_IMPORTANCE,
}


def ensure_classifier_tables(spark: SparkSession) -> None:
    spark.sql("create database if not exists ml")
    for name, schema in CLASSIFIER_TABLES.items():
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)
        spark.sql(f"create table if not exists ml.{name} ({columns}) using parquet")


def append_rows(spark: SparkSession, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Append a handful of driver-side rows (metrics, confusion cells) to ml.<table>."""
    if not rows:
        return
    schema = CLASSIFIER_TABLES[table]
    ordered = [tuple(row.get(field.name) for field in schema.fields) for row in rows]
    spark.createDataFrame(ordered, schema).coalesce(1).write.insertInto(f"ml.{table}")
