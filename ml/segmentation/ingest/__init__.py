"""Load CSV, Parquet and Excel files into raw.transactions (SPEC 1).

Every data column stays a raw string (typing and rejects happen in dbt staging, so nothing is lost here);
each row keeps `_source_file` (absolute path) and `_source_line` (the line its record starts on, header
= 1) so it can be traced. Headers are validated before anything is read in full, the rows are written into
a batch no reader can see, and only then is the table repointed (writer.py): one bad file, a read error
in its last line or a kill at any moment means no change.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from segmentation.errors import SegmentationError
from segmentation.ingest import readers, writer, xlsx
from segmentation.ingest.columns import RAW_COLUMNS, map_columns
from segmentation.ingest.errors import multiline_source, read_error_message
from segmentation.ingest.writer import TABLE

__all__ = ["IngestResult", "RAW_COLUMNS", "TABLE", "discover_inputs", "ingest_files", "map_columns"]

# Called with the staged rows before they become visible; raising SegmentationError leaves the table as it was.
BeforeCommit = Callable[[SparkSession, DataFrame], None]


@dataclass(frozen=True)
class IngestResult:
    rows_per_file: dict[str, int]  # _source_file -> rows now in the table
    seconds: float
    replaced_all: bool
    table: str = TABLE

    @property
    def total_rows(self) -> int:
        return sum(self.rows_per_file.values())

    def describe(self) -> str:
        lines = [f"{rows:>12,}  {name}" for name, rows in self.rows_per_file.items()]
        verb = "replaced the table with" if self.replaced_all else "loaded"
        lines.append(
            f"{verb} {self.total_rows:,} rows from {len(self.rows_per_file)} source(s) into {self.table} "
            f"in {self.seconds:.1f} s"
        )
        return "\n".join(lines)


def discover_inputs(paths: list[Path]) -> list[readers.Source]:
    """Expand folders, classify and check every file's header, without Spark: a missing file, an unknown
    format or a missing column fails here, before a session starts."""
    sources = readers.discover([Path(p) for p in paths])
    if not sources:
        raise SegmentationError("no input files given")
    return sources


def ingest_files(
    spark: SparkSession,
    paths: list[Path],
    *,
    encoding: str = "utf-8",
    replace_all: bool = False,
    table: str = TABLE,
    before_commit: BeforeCommit | None = None,
) -> IngestResult:
    """Load `paths` (files or folders) into raw.transactions. Reloading a file replaces its rows;
    `replace_all` leaves the table holding exactly these files. `table` names another table of the same
    shape (the hand-written reference loads its own copy with this code)."""
    started = time.monotonic()
    sources = discover_inputs(paths)
    for source in sources:  # every header first
        if source.kind == "csv":
            readers.inspect_csv(source, encoding)
        elif source.kind == "parquet":
            readers.inspect_parquet(spark, source)
        else:
            xlsx.inspect_xlsx(source)

    source_files = _source_names(sources)
    tmp_dir = _warehouse_dir(spark) / "_ingest_tmp" / uuid.uuid4().hex
    batch: writer.Batch | None = None
    committed = False
    try:
        multiline: set[Path] = set()
        while batch is None:
            frames: list[DataFrame] = []
            for source in sources:
                frames += _frames(spark, source, encoding, tmp_dir, multiline=source.path in multiline)
            if not replace_all and writer.legacy_table(spark, table):
                # The table predates the view layout: its other files' rows move into the new batch once.
                frames.append(
                    spark.table(table)
                    .where(~writer.source_file_in(source_files))
                    .select(*RAW_COLUMNS, "_source_line", writer.PARTITION_COLUMN)
                )
            try:
                batch = writer.stage(spark, reduce(DataFrame.unionByName, frames), table)
            except Exception as exc:  # Spark's read errors: one line naming the file (and record), no trace
                retry = multiline_source(exc, sources)
                if retry is None or retry in multiline:
                    raise SegmentationError(read_error_message(exc, source_files, encoding)) from None
                multiline.add(retry)  # a quoted field spans lines: read that file again, record by record
                writer.collect_garbage(spark, table)
        if before_commit is not None:
            before_commit(spark, writer.read_batch(spark, batch))
        writer.commit(spark, batch, replace_all=replace_all, new_files=source_files)
        committed = True
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if not committed:
            writer.collect_garbage(spark, table)  # a batch that never became visible: remove it now
    counts = writer.rows_per_file(spark, source_files, table)
    return IngestResult(counts, time.monotonic() - started, replace_all, table)


def _frames(
    spark: SparkSession, source: readers.Source, encoding: str, tmp_dir: Path, *, multiline: bool = False
) -> list[DataFrame]:
    if source.kind == "csv":
        read_path = source.path
        if not readers.is_utf8(encoding):
            tmp_dir.mkdir(parents=True, exist_ok=True)
            read_path = source.transcoded or readers.transcode(source, encoding, tmp_dir)
            source.transcoded = read_path
        return [
            readers.read_csv(spark, source, read_path, check_utf8=readers.is_utf8(encoding), multiline=multiline)
        ]
    if source.kind == "parquet":
        return [readers.read_parquet(spark, source.path, str(source.path))]
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return [
        readers.read_parquet(spark, parquet, name, line_column=xlsx.LINE_COLUMN)
        for name, parquet in xlsx.convert_xlsx(source, tmp_dir)
    ]


def _source_names(sources: list[readers.Source]) -> list[str]:
    names: list[str] = []
    for source in sources:
        if source.kind == "xlsx":
            names += [xlsx.sheet_source(source.path, sheet) for sheet in source.sheets]
        else:
            names.append(str(source.path))
    return names


def _warehouse_dir(spark: SparkSession) -> Path:
    location = spark.conf.get("spark.sql.warehouse.dir") or "spark-warehouse"
    return Path(location.removeprefix("file:"))
