"""The one place a SparkSession is built. Library code receives the session; only entry points
(the CLI, the pipeline, test fixtures) call this."""

from __future__ import annotations

import logging
import os
import shlex
import sys

from pyspark.sql import SparkSession

from segmentation.config import METASTORE_PASSWORD_KEY, Settings
from segmentation.secrets import METASTORE_PASSWORD, private_dir, secret, spark_properties


def quiet_pyspark_loggers() -> None:
    """PySpark logs every SQL error's context as JSON on stderr before raising it; the command reports the
    error itself (dbt names the failing node), so the same error twice, as a page of JSON, is noise."""
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def build_session(settings: Settings, app_name: str = "segmentation") -> SparkSession:
    settings.export_env()
    quiet_pyspark_loggers()
    private_dir(settings.home)
    private_dir(settings.run_dir)
    if settings.binds_loopback:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # Spark's web UI binds to it
    # Python workers (the CLV step's pandas UDF) run this interpreter, the one with the project installed,
    # not whatever `python3` the PATH finds. A cluster on other machines sets PYSPARK_PYTHON itself.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if settings.metastore_url:
        # Only read when this process starts the JVM; later getOrCreate calls reuse it.
        password = secret(settings.secrets_dir, METASTORE_PASSWORD)
        properties = spark_properties(settings.secrets_dir, {METASTORE_PASSWORD_KEY: password})
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"--properties-file {shlex.quote(str(properties))} pyspark-shell"
    builder = SparkSession.builder.appName(app_name).enableHiveSupport()
    if settings.spark_master:
        builder = builder.master(settings.spark_master)
    for key, value in settings.spark_conf().items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
