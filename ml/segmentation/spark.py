"""The one place a SparkSession is built. Library code receives the session; only entry points
(the CLI, the pipeline, test fixtures) call this."""

from __future__ import annotations

from pyspark.sql import SparkSession

from segmentation.config import Settings


def build_session(settings: Settings, app_name: str = "segmentation") -> SparkSession:
    settings.export_env()
    settings.home.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName(app_name).enableHiveSupport()
    if settings.spark_master:
        builder = builder.master(settings.spark_master)
    for key, value in settings.spark_conf().items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def ensure_schemas(spark: SparkSession, *schemas: str) -> None:
    for schema in schemas:
        spark.sql(f"create database if not exists {schema}")
