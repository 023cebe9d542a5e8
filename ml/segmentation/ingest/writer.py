"""The one table ingest writes, raw.transactions, replaced atomically.

`raw.transactions` is a view over a versioned, partitioned table `internal_versions.raw__transactions__v<UTC>`
(one partition per source file). Each partition points at an immutable folder under
`<raw database folder>/_batches/<batch>/_source_file=<file>/`. An ingest:

1. writes the new files' rows into a new batch folder (nothing visible changes; a failed or killed read
   leaves only an unreferenced folder);
2. creates the next version table: the new batch's partitions, plus, unless it replaces everything, the
   partitions of the current version for the files it keeps (their folders are reused, not copied);
3. repoints the view with one metastore call, the only step a reader can see;
4. drops the older version tables (external: metadata only) and deletes the partition folders no version
   references any more.

A kill before step 3 leaves the table as it was, a kill after it leaves it fully replaced; step 4's
leftovers are collected by the next ingest (`collect_garbage`), which only ever runs under the home's
writer lock. Peak disk is the old rows plus the new ones, for the length of one ingest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.ingest.columns import RAW_COLUMNS

TABLE = "raw.transactions"
VERSIONS_SCHEMA = "internal_versions"
BATCHES_FOLDER = "_batches"  # a leading "_": Spark's readers and the warehouse recovery skip it
PARTITION_COLUMN = "_source_file"
TABLE_COLUMNS = (*RAW_COLUMNS, "_source_line", "_loaded_at", PARTITION_COLUMN)


def _column_ddl() -> str:
    types = {"_source_line": "bigint", "_loaded_at": "timestamp"}
    return ", ".join(f"{name} {types.get(name, 'string')}" for name in TABLE_COLUMNS)


@dataclass(frozen=True)
class Batch:
    """A fully written set of new rows, not yet visible in the table."""

    table: str
    batch_id: str
    path: str  # the batch folder (a Hadoop path URI)


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.partition(".")
    return schema, name


def version_prefix(table: str) -> str:
    schema, name = _split(table)
    return f"{schema}__{name}__v"


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _hadoop(spark: SparkSession):  # noqa: ANN202 - py4j objects
    jvm = spark.sparkContext._jvm
    return jvm, spark.sparkContext._jsc.hadoopConfiguration()


def batches_root(spark: SparkSession, table: str) -> str:
    schema, _ = _split(table)
    spark.sql(f"create database if not exists {schema}")
    return f"{spark.catalog.getDatabase(schema).locationUri}/{BATCHES_FOLDER}"


def stage(spark: SparkSession, frame: DataFrame, table: str = TABLE) -> Batch:
    """Write `frame` (raw columns, _source_line, _source_file) into a new batch folder. Read errors surface
    here, before anything a reader can see has changed."""
    now = datetime.now(UTC)
    batch_id = f"{now:%Y%m%d%H%M%S%f}"
    path = f"{batches_root(spark, table)}/{batch_id}"
    final = frame.select(*RAW_COLUMNS, "_source_line", F.lit(now).alias("_loaded_at"), PARTITION_COLUMN)
    # Each task holds one source file, so a few concurrent writers avoid the sort Spark otherwise adds
    # before a partitioned write.
    with session_conf(spark, {"spark.sql.maxConcurrentOutputFileWriters": "4"}):
        final.write.partitionBy(PARTITION_COLUMN).parquet(path)
    return Batch(table=table, batch_id=batch_id, path=path)


def read_batch(spark: SparkSession, batch: Batch) -> DataFrame:
    return spark.read.parquet(batch.path)


def current_version(spark: SparkSession, table: str = TABLE) -> str | None:
    """The version table the view reads, or None (no table yet, or a table from before the view layout)."""
    schema, name = _split(table)
    if not spark.catalog.tableExists(table):
        return None
    found = spark.catalog.getTable(table)
    if found.tableType != "VIEW":
        return None
    view_text = _view_text(spark, schema, name)
    prefix = version_prefix(table)
    for token in view_text.replace("`", " ").replace(",", " ").split():
        candidate = token.rsplit(".", 1)[-1]
        if candidate.startswith(prefix):
            return f"{VERSIONS_SCHEMA}.{candidate}"
    return None


def _view_text(spark: SparkSession, schema: str, name: str) -> str:
    jvm = spark.sparkContext._jvm
    ident = jvm.org.apache.spark.sql.catalyst.TableIdentifier(name, jvm.scala.Some(schema))
    text = spark._jsparkSession.sessionState().catalog().getTableMetadata(ident).viewText()
    return text.get() if text.isDefined() else ""


def partition_locations(spark: SparkSession, version: str) -> dict[str, str]:
    """source file -> partition folder of a version table (through the catalog API: SHOW PARTITIONS has
    no locations, and one DESCRIBE per file would be slow for folders of many files)."""
    jvm, _ = _hadoop(spark)
    schema, name = _split(version)
    ident = jvm.org.apache.spark.sql.catalyst.TableIdentifier(name, jvm.scala.Some(schema))
    partitions = spark._jsparkSession.sessionState().catalog().listPartitions(ident, jvm.scala.Option.empty())
    found: dict[str, str] = {}
    iterator = partitions.iterator()
    while iterator.hasNext():
        partition = iterator.next()
        source = partition.spec().get(PARTITION_COLUMN).get()
        found[source] = jvm.org.apache.hadoop.fs.Path(partition.location()).toString()
    return found


def commit(
    spark: SparkSession, batch: Batch, *, replace_all: bool, new_files: list[str], legacy_rows: bool = False
) -> str:
    """Make the batch visible: a new version table and one view swap. Returns the new version's name."""
    table = batch.table
    spark.sql(f"create database if not exists {VERSIONS_SCHEMA}")
    previous = current_version(spark, table)
    version = f"{VERSIONS_SCHEMA}.{version_prefix(table)}{batch.batch_id}"
    spark.sql(
        f"create table {version} ({_column_ddl()}) using parquet partitioned by ({PARTITION_COLUMN}) "
        f"location {_sql_string(batch.path)}"
    )
    spark.sql(f"alter table {version} recover partitions")
    if previous is not None and not replace_all:
        kept = {
            source: location
            for source, location in partition_locations(spark, previous).items()
            if source not in set(new_files)
        }
        if kept:
            specs = " ".join(
                f"partition ({PARTITION_COLUMN} = {_sql_string(source)}) location {_sql_string(location)}"
                for source, location in sorted(kept.items())
            )
            spark.sql(f"alter table {version} add {specs}")
    columns = ", ".join(TABLE_COLUMNS)
    if spark.catalog.tableExists(table) and spark.catalog.getTable(table).tableType == "VIEW":
        spark.sql(f"alter view {table} as select {columns} from {version}")
    else:
        if spark.catalog.tableExists(table):
            # A managed table from before the view layout (its rows for kept files were copied into the
            # batch, see legacy_rows): replaced by the view once, not atomically that once.
            spark.sql(f"drop table {table}")
        spark.sql(f"create view {table} as select {columns} from {version}")
    collect_garbage(spark, table)
    return version


def collect_garbage(spark: SparkSession, table: str = TABLE) -> list[str]:
    """Drop the version tables the view no longer reads and delete the batch folders (or partition
    folders) no remaining version references. Returns the deleted paths. Run under the writer lock only:
    another writer's batch in progress would look unreferenced."""
    current = current_version(spark, table)
    schema, _ = _split(table)
    if not spark.catalog.databaseExists(schema):
        return []
    prefix = version_prefix(table)
    if spark.catalog.databaseExists(VERSIONS_SCHEMA):
        for listed in spark.catalog.listTables(VERSIONS_SCHEMA):
            qualified = f"{VERSIONS_SCHEMA}.{listed.name}"
            if listed.name.startswith(prefix) and qualified != current:
                spark.sql(f"drop table if exists {qualified}")  # external: the files stay
    referenced = set(partition_locations(spark, current).values()) if current else set()
    jvm, conf = _hadoop(spark)
    root = jvm.org.apache.hadoop.fs.Path(batches_root(spark, table))
    fs = root.getFileSystem(conf)
    deleted: list[str] = []
    if not fs.exists(root):
        return deleted
    for batch in fs.listStatus(root):
        if not batch.isDirectory():
            continue
        live = False
        for child in fs.listStatus(batch.getPath()):
            child_path = child.getPath().toString()
            if not child.isDirectory() or not child.getPath().getName().startswith(f"{PARTITION_COLUMN}="):
                continue  # _SUCCESS, _temporary and Spark's checksums
            if any(_same_path(child_path, ref) for ref in referenced):
                live = True
            else:
                fs.delete(child.getPath(), True)
                deleted.append(child_path)
        if not live:
            fs.delete(batch.getPath(), True)
            deleted.append(batch.getPath().toString())
    return deleted


def _same_path(a: str, b: str) -> bool:
    return a.removeprefix("file:").rstrip("/") == b.removeprefix("file:").rstrip("/")


def legacy_table(spark: SparkSession, table: str = TABLE) -> bool:
    """True when `table` is a plain table from before the view layout."""
    return spark.catalog.tableExists(table) and spark.catalog.getTable(table).tableType != "VIEW"


@contextmanager
def session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    previous = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def rows_per_file(spark: SparkSession, source_files: list[str], table: str = TABLE) -> dict[str, int]:
    counts = spark.table(table).where(source_file_in(source_files)).groupBy(PARTITION_COLUMN).count().collect()
    found = {row[PARTITION_COLUMN]: int(row["count"]) for row in counts}
    return {name: found.get(name, 0) for name in source_files}


def source_file_in(source_files: list[str]) -> Column:
    """A filter on `_source_file` that Spark prunes itself. A plain `=`/`in` is pushed down to the Hive
    metastore, which fails on the embedded Derby metastore for these path values ("Caught Hive
    MetaException attempting to get partition metadata by filter"); concat() is not pushed down."""
    return F.concat(F.col(PARTITION_COLUMN), F.lit("")).isin(source_files)
