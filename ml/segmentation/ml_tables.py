"""The ml.* tables' columns, from their one definition: the dbt source declaration
models/staging/ml/_ml__sources.yml, which the dbt hook create_ml_tables_if_missing reads too."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
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

from segmentation.config import find_project_dir

ML_SCHEMA = "ml"
SOURCES_FILE = Path("models") / "staging" / "ml" / "_ml__sources.yml"
_TYPES: dict[str, DataType] = {
    "string": StringType(),
    "int": IntegerType(),
    "bigint": LongType(),
    "double": DoubleType(),
    "date": DateType(),
    "timestamp": TimestampType(),
    "boolean": BooleanType(),
}


@cache
def schemas() -> dict[str, StructType]:
    """Table name -> its Spark schema, in declaration order."""
    declared = yaml.safe_load((find_project_dir() / SOURCES_FILE).read_text())
    (source,) = [s for s in declared["sources"] if s["name"] == ML_SCHEMA]
    return {
        table["name"]: StructType(
            [StructField(column["name"], _TYPES[column["data_type"]], True) for column in table["columns"]]
        )
        for table in source["tables"]
    }


def schema(table: str) -> StructType:
    return schemas()[table]


def ddl_columns(table: str) -> str:
    return ", ".join(f"`{field.name}` {field.dataType.simpleString()}" for field in schema(table).fields)


def ensure_tables(spark: SparkSession) -> None:
    """Create the ml database and every declared table, empty, when missing (what the dbt hook does)."""
    spark.sql(f"create database if not exists {ML_SCHEMA}")
    for name in schemas():
        spark.sql(f"create table if not exists {ML_SCHEMA}.{name} ({ddl_columns(name)}) using parquet")


def conform(frame: DataFrame, table: str) -> DataFrame:
    """Columns in table order and with the table's types, so insertInto (positional) is safe."""
    return frame.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema(table).fields])


def rows_frame(spark: SparkSession, rows: list[tuple], table: str) -> DataFrame:
    """A small driver-side result (a run row, sweep rows, k centroids, a few parameters) as a DataFrame."""
    return spark.createDataFrame(rows, schema=schema(table))


def overwrite(frame: DataFrame, table: str) -> None:
    """Replace the table's rows; the table keeps its definition."""
    conform(frame, table).write.insertInto(f"{ML_SCHEMA}.{table}", overwrite=True)


def append(frame: DataFrame, table: str) -> None:
    conform(frame, table).write.insertInto(f"{ML_SCHEMA}.{table}", overwrite=False)
