"""The classifier's output tables in the ml schema (declared once, as dbt sources: segmentation/ml_tables.py).
Every run appends rows tagged with its run_id, so a reader takes the latest run with `where run_id = ...`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import SparkSession

from segmentation import ml_tables


def append_rows(spark: SparkSession, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Append a handful of driver-side rows (metrics, confusion cells) to ml.<table>."""
    if not rows:
        return
    fields = ml_tables.schema(table).fields
    ordered = [tuple(row.get(field.name) for field in fields) for row in rows]
    ml_tables.append(ml_tables.rows_frame(spark, ordered, table).coalesce(1), table)
