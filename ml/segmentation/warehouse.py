"""Recovering the warehouse after an interrupted run.

Spark writes a managed table's files into `<database folder>/<table>` before it registers the table in
the metastore, and dbt-spark's `table` materialization drops the old table before it writes the new one.
A run killed in between (kill -9, out of memory, a lost machine) leaves a folder that no table owns, and
every later `CREATE TABLE` of that name fails with LOCATION_ALREADY_EXISTS. Spark has no setting to
overwrite such a folder, so each run first removes the half-written folders in the project's schemas.

A folder is removed only when it is directly under a project schema's folder, no table or view of that
schema owns it, and its write never finished (no `_SUCCESS` marker, which Spark writes when a job
commits). A complete folder that this metastore does not know (the other target's metastore on the same
SEGMENTATION_HOME, say) is data and is left alone, with a warning. Names starting with "." or "_"
(Spark's and Hadoop's own staging) are skipped. It goes through Hadoop's FileSystem API, so the same code
works on a cluster's HDFS or object-store warehouse. One pipeline run at a time per warehouse: a
concurrent run's half-written table would look interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from segmentation.config import Settings
from segmentation.ingest import writer
from segmentation.ingest.writer import VERSIONS_SCHEMA
from segmentation.lock import held_here

# The schemas the project writes (dbt_project.yml, the versions schema of swap_table and ingest, ML).
PROJECT_SCHEMAS = ("raw", "staging", "intermediate", "marts", "ml", VERSIONS_SCHEMA)


@dataclass
class UnownedFolders:
    removed: list[str] = field(default_factory=list)  # interrupted writes, deleted
    kept: list[str] = field(default_factory=list)  # complete data no table of this metastore owns


def remove_orphaned_table_folders(spark: SparkSession, schemas: tuple[str, ...] = PROJECT_SCHEMAS) -> UnownedFolders:
    """Delete the unowned table folders whose write never finished; list the complete ones."""
    jvm = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    found = UnownedFolders()
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        folder = jvm.org.apache.hadoop.fs.Path(spark.catalog.getDatabase(schema).locationUri)
        fs = folder.getFileSystem(hadoop_conf)
        if not fs.exists(folder):
            continue
        # A managed table's folder is its lower-cased name.
        owned = {table.name.lower() for table in spark.catalog.listTables(schema)}
        for status in fs.listStatus(folder):
            path, name = status.getPath(), status.getPath().getName()
            if not status.isDirectory() or name.startswith((".", "_")) or name.lower() in owned:
                continue
            if len(fs.listStatus(path)) == 0:  # an empty folder blocks nothing
                continue
            if fs.exists(jvm.org.apache.hadoop.fs.Path(path, "_SUCCESS")):
                found.kept.append(path.toString())
            else:
                fs.delete(path, True)
                found.removed.append(path.toString())
    return found


def recover_interrupted_run(
    spark: SparkSession, settings: Settings, echo: Callable[[str], None] = print
) -> UnownedFolders:
    """What every writing command does first, holding the writer lock: remove half-written table folders
    and an interrupted ingest's batch, and say which."""
    if not held_here(settings.run_dir):
        raise RuntimeError("recover_interrupted_run needs the home's writer lock (segmentation.lock)")
    found = remove_orphaned_table_folders(spark)
    for path in writer.collect_garbage(spark):
        echo(f"removed {path}: rows of an ingest that never became visible")
    for folder in found.removed:
        echo(f"removed {folder}: a half-written table folder left by an interrupted run")
    for folder in found.kept:
        echo(
            f"warning: {folder} holds a complete table that this metastore does not know (another metastore "
            "on the same warehouse?); a table of that name cannot be created here until it is moved away"
        )
    return found
