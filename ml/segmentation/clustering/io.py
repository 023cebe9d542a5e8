"""Reading the RFM marts the clustering step works on. Its output tables are declared once, as dbt sources
(segmentation/ml_tables.py reads the declaration)."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.errors import SegmentationError
from segmentation.ml_tables import ML_SCHEMA

RFM_TABLE = "marts.customer_rfm"
RFM_HISTORY_TABLE = "marts.customer_rfm_history"
CALENDAR_TABLE = "marts.history_calendar"

# The clustering input's partitions: one per this many customers, at most MAX_PARTITIONS.
CUSTOMERS_PER_PARTITION = 250_000
MAX_PARTITIONS = 64
# Columns the clustering step needs from marts.customer_rfm (the mart has more).
RFM_COLUMNS = ("customer_id", "recency_days", "frequency", "monetary")


def table_exists(spark: SparkSession, qualified_name: str) -> bool:
    return spark.catalog.tableExists(qualified_name)


def read_customer_rfm(spark: SparkSession) -> DataFrame:
    """The RFM mart's columns the clustering step uses, in the same partitions and order every time: MLlib's
    k-means|| seeding samples each partition with the seed and the partition's index, so the same customers
    give the same clusters only if each partition holds the same customers in the same order, whatever the
    mart's build or spark.sql.shuffle.partitions left. Hash partitioning by customer into a count set by the
    number of customers alone does that. A clear error if the mart is missing."""
    if not table_exists(spark, RFM_TABLE):
        raise SegmentationError(f"{RFM_TABLE} does not exist; build the RFM marts first (dbt build)")
    table = spark.table(RFM_TABLE)
    missing = [c for c in RFM_COLUMNS if c not in table.columns]
    if missing:
        raise SegmentationError(f"{RFM_TABLE} lacks column(s) {', '.join(missing)}")
    partitions = min(MAX_PARTITIONS, max(1, math.ceil(table.count() / CUSTOMERS_PER_PARTITION)))
    return table.select(*RFM_COLUMNS).repartition(partitions, "customer_id").sortWithinPartitions("customer_id")


def read_customer_rfm_history(spark: SparkSession) -> DataFrame:
    """Every calendar date's customers with their R, F and M (SPEC 10), for the cluster history."""
    if not table_exists(spark, RFM_HISTORY_TABLE):
        raise SegmentationError(f"{RFM_HISTORY_TABLE} does not exist; build the RFM marts first (dbt build)")
    return spark.table(RFM_HISTORY_TABLE).select("as_of_date", *RFM_COLUMNS)


def run_as_of_date(spark: SparkSession):  # noqa: ANN201 - a datetime.date or None
    """The run's as-of date, from the one place it is decided (marts.history_calendar); one row."""
    if not table_exists(spark, CALENDAR_TABLE):
        return None
    row = spark.table(CALENDAR_TABLE).where("is_run_as_of_date").select("as_of_date").first()
    return None if row is None else row["as_of_date"]


def latest_run(spark: SparkSession) -> dict | None:
    """The most recent row of ml.model_runs (one row, so collecting it is fine)."""
    if not table_exists(spark, f"{ML_SCHEMA}.model_runs"):
        return None
    rows = (
        spark.table(f"{ML_SCHEMA}.model_runs")
        .orderBy(F.col("run_at").desc(), F.col("run_id").desc())
        .limit(1)
    )
    found = rows.collect()
    return found[0].asDict() if found else None
