"""Load CSV, Parquet and Excel files into raw.transactions (SPEC 1).

Every data column stays a raw string (typing and rejects happen in dbt staging, so nothing is lost here);
each row keeps `_source_file` (absolute path) and `_source_line` (physical line, header = 1) so it can be
traced. All inputs are validated before anything is converted or written: one bad file means no change.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from segmentation.errors import SegmentationError
from segmentation.ingest import readers, writer, xlsx
from segmentation.ingest.columns import RAW_COLUMNS, map_columns
from segmentation.ingest.writer import TABLE

__all__ = ["IngestResult", "RAW_COLUMNS", "TABLE", "ingest_files", "map_columns"]


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


def ingest_files(
    spark: SparkSession,
    paths: list[Path],
    *,
    encoding: str = "utf-8",
    replace_all: bool = False,
    table: str = TABLE,
) -> IngestResult:
    """Load `paths` (files or folders) into raw.transactions. Reloading a file replaces its rows;
    `replace_all` leaves the table holding exactly these files. `table` names another table of the same
    shape (the benchmark's hand-written floor loads its own copy with this code)."""
    started = time.monotonic()
    sources = readers.discover([Path(p) for p in paths])
    if not sources:
        raise SegmentationError("no input files given")
    for source in sources:  # validate everything first
        if source.kind == "csv":
            readers.inspect_csv(source, encoding)
        elif source.kind == "parquet":
            readers.inspect_parquet(spark, source)
        else:
            xlsx.inspect_xlsx(source)

    tmp_dir = _warehouse_dir(spark) / "_ingest_tmp" / uuid.uuid4().hex
    try:
        frames: list[DataFrame] = []
        for source in sources:
            frames += _frames(spark, source, encoding, tmp_dir)
        source_files = _source_names(sources)
        writer.write(spark, reduce(DataFrame.unionByName, frames), replace_all=replace_all, table=table)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    counts = writer.rows_per_file(spark, source_files, table)
    return IngestResult(counts, time.monotonic() - started, replace_all, table)


def _frames(spark: SparkSession, source: readers.Source, encoding: str, tmp_dir: Path) -> list[DataFrame]:
    if source.kind == "csv":
        read_path = source.path
        if not readers.is_utf8(encoding):
            tmp_dir.mkdir(parents=True, exist_ok=True)
            read_path = readers.transcode(source, encoding, tmp_dir)
        return [readers.read_csv(spark, source, read_path)]
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
