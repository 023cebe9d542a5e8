"""Reading the RFM mart and writing the ml.* tables.

The Spark schemas below are the single Python definition of the ml tables. The dbt macro
`create_ml_tables_if_missing` holds the same column lists (tests/python/test_ml_contract.py keeps them equal).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from segmentation.errors import SegmentationError

RFM_TABLE = "marts.customer_rfm"
ML_SCHEMA = "ml"

# Columns the clustering step needs from marts.customer_rfm (the mart has more).
RFM_COLUMNS = ("customer_id", "as_of_date", "recency_days", "frequency", "monetary")


def _schema(*columns: tuple[str, DataType]) -> StructType:
    return StructType([StructField(name, dtype, True) for name, dtype in columns])


CUSTOMER_CLUSTERS = _schema(
    ("run_id", StringType()),
    ("customer_id", StringType()),
    ("cluster_id", IntegerType()),
    ("cluster_name", StringType()),
    ("algorithm", StringType()),
    ("k", IntegerType()),
    ("assigned_at", TimestampType()),
)
CLUSTER_CENTROIDS = _schema(
    ("run_id", StringType()),
    ("cluster_id", IntegerType()),
    ("cluster_name", StringType()),
    ("customers", LongType()),
    ("recency_days", DoubleType()),
    ("frequency", DoubleType()),
    ("monetary", DoubleType()),
    ("scaled_recency", DoubleType()),
    ("scaled_frequency", DoubleType()),
    ("scaled_monetary", DoubleType()),
)
MODEL_RUNS = _schema(
    ("run_id", StringType()),
    ("run_at", TimestampType()),
    ("as_of_date", DateType()),
    ("algorithm", StringType()),
    ("k", IntegerType()),
    ("k_rule", StringType()),
    ("seed", IntegerType()),
    ("silhouette", DoubleType()),
    ("cost", DoubleType()),
    ("customers", LongType()),
    ("parameters", StringType()),
    ("model_path", StringType()),
)
K_SWEEP = _schema(
    ("run_id", StringType()),
    ("algorithm", StringType()),
    ("k", IntegerType()),
    ("cost", DoubleType()),
    ("silhouette", DoubleType()),
    ("is_chosen", BooleanType()),
)
# Written by `segmentation compare` only; no dbt model reads it, so the dbt macro does not create it.
ALGORITHM_COMPARISON = _schema(
    ("run_id", StringType()),
    ("algorithm", StringType()),
    ("k", IntegerType()),
    ("silhouette", DoubleType()),
    ("cost", DoubleType()),
    ("cost_measure", StringType()),
    ("customers", LongType()),
    ("compared_at", TimestampType()),
)

# The four tables the dbt macro also creates (same names, same column lists).
ML_TABLES: dict[str, StructType] = {
    "customer_clusters": CUSTOMER_CLUSTERS,
    "cluster_centroids": CLUSTER_CENTROIDS,
    "model_runs": MODEL_RUNS,
    "k_sweep": K_SWEEP,
}
ALL_ML_TABLES: dict[str, StructType] = {**ML_TABLES, "algorithm_comparison": ALGORITHM_COMPARISON}


def ddl_columns(schema: StructType) -> str:
    """`name type, ...` in the form the dbt macro uses (lower-case Spark SQL type names)."""
    return ", ".join(f"{field.name} {field.dataType.simpleString()}" for field in schema.fields)


def table_exists(spark: SparkSession, qualified_name: str) -> bool:
    return spark.catalog.tableExists(qualified_name)


def ensure_ml_tables(spark: SparkSession) -> None:
    """Create the ml database and its tables, empty, when missing (same DDL as the dbt macro)."""
    spark.sql(f"create database if not exists {ML_SCHEMA}")
    for name, schema in ALL_ML_TABLES.items():
        spark.sql(f"create table if not exists {ML_SCHEMA}.{name} ({ddl_columns(schema)}) using parquet")


def read_customer_rfm(spark: SparkSession) -> DataFrame:
    """The RFM mart's columns the clustering step uses; a clear error if the mart is missing."""
    if not table_exists(spark, RFM_TABLE):
        raise SegmentationError(f"{RFM_TABLE} does not exist; build the RFM marts first (dbt build)")
    table = spark.table(RFM_TABLE)
    missing = [c for c in RFM_COLUMNS if c not in table.columns]
    if missing:
        raise SegmentationError(f"{RFM_TABLE} lacks column(s) {', '.join(missing)}")
    return table.select(*RFM_COLUMNS)


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Columns in table order and with the table's types, so insertInto (positional) is safe."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def overwrite_table(df: DataFrame, table: str) -> None:
    """Replace the table's rows. The table keeps its definition (it is not dropped and recreated)."""
    df.write.insertInto(f"{ML_SCHEMA}.{table}", overwrite=True)


def append_table(df: DataFrame, table: str) -> None:
    df.write.insertInto(f"{ML_SCHEMA}.{table}", overwrite=False)


def rows_frame(spark: SparkSession, rows: list[tuple], schema: StructType) -> DataFrame:
    """A small driver-side result (a run row, k sweep rows, k centroids) as a DataFrame."""
    return spark.createDataFrame(rows, schema=schema)


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
