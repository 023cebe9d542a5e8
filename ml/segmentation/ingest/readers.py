"""Per-format readers: each turns one source into a DataFrame of the raw columns (all strings) plus
`_source_line` and `_source_file`.

Validation (`inspect_*`) only reads headers and is done for every input before anything is converted or
written, so a bad file anywhere leaves the table untouched.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

from segmentation.errors import SegmentationError
from segmentation.ingest.columns import RAW_COLUMNS, map_columns

CSV_SUFFIXES = (".csv", ".csv.gz")
SUPPORTED = "expected .csv, .csv.gz, .parquet or .xlsx"
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
# monotonically_increasing_id() puts the partition index in the upper 31 bits, the row index in the lower 33.
_ROW_BITS = 33


@dataclass
class Source:
    """One input as the user named it, after validation."""

    path: Path  # absolute path of the file (or Spark parquet folder)
    kind: str  # csv | parquet | xlsx
    header: list[str] = field(default_factory=list)  # csv: header names in file order
    sheets: list[str] = field(default_factory=list)  # xlsx: sheets holding data, in workbook order


def kind_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".xlsx"):
        return "xlsx"
    return None


def discover(paths: list[Path]) -> list[Source]:
    """Expand folders and classify every file. Raises on a missing path, an unknown format or a folder
    with nothing to load. The same file named twice is loaded once."""
    sources: dict[Path, Source] = {}
    for given in paths:
        path = Path(given).expanduser().resolve()
        if not path.exists():
            raise SegmentationError(f"{path}: no such file or folder")
        if path.is_dir():
            for source in _discover_folder(path):
                sources.setdefault(source.path, source)
            continue
        kind = kind_of(path)
        if kind is None:
            raise SegmentationError(f"{path}: unknown format ({SUPPORTED})")
        sources.setdefault(path, Source(path, kind))
    return list(sources.values())


def _discover_folder(folder: Path) -> list[Source]:
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_")) and kind_of(p)
    )
    if not files:
        raise SegmentationError(f"{folder}: folder holds no .csv, .csv.gz, .parquet or .xlsx files")
    # A folder written by Spark (part-*.parquet, nothing else) is one dataset, traced by the folder's path.
    if all(kind_of(p) == "parquet" for p in files) and any(p.name.startswith("part-") for p in files):
        return [Source(folder, "parquet")]
    return [Source(p, kind_of(p) or "") for p in files]


# ---------------------------------------------------------------- CSV


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115
    # utf-8-sig drops a byte-order mark so the first column name is clean.
    enc = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
    return io.TextIOWrapper(raw, encoding=enc, newline="")


def inspect_csv(source: Source, encoding: str) -> None:
    """Read the header (first line) with Python and check that at least one data row follows."""
    try:
        with _open_text(source.path, encoding) as handle:
            first = handle.readline()
            if not first.strip():
                raise SegmentationError(f"{source.path}: empty file (no header row)")
            has_row = any(line.strip() for line in _limited(handle, 1000))
    except (OSError, EOFError, UnicodeDecodeError, LookupError) as exc:
        raise SegmentationError(f"{source.path}: cannot be read as {encoding} CSV ({exc})") from exc
    if not has_row:
        raise SegmentationError(f"{source.path}: empty file (header but no data rows)")
    source.header = next(csv.reader([first]))
    map_columns(source.header, str(source.path))


def _limited(handle: io.TextIOBase, limit: int) -> Iterator[str]:
    for count, line in enumerate(handle):
        if count >= limit:
            # Over a thousand blank lines after the header: treat the next one as a row and let Spark decide.
            yield "x"
            return
        yield line


def transcode(source: Source, encoding: str, tmp_dir: Path) -> Path:
    """Copy a non-UTF-8 CSV to a plain UTF-8 file in constant memory (1 MiB at a time). Plain rather than
    gzipped, so that Spark can split it."""
    target = tmp_dir / f"{len(list(tmp_dir.iterdir())):05d}_{source.path.name.removesuffix('.gz')}"
    try:
        with (
            _open_text(source.path, encoding) as reader,
            open(target, "w", encoding="utf-8", newline="") as out,
        ):
            shutil.copyfileobj(reader, out, 1 << 20)
    except (OSError, EOFError, UnicodeDecodeError, LookupError) as exc:
        raise SegmentationError(f"{source.path}: cannot be read as {encoding} ({exc})") from exc
    return target


def is_utf8(encoding: str) -> bool:
    return encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig")


def read_csv(spark: SparkSession, source: Source, read_path: Path) -> DataFrame:
    """Lines via the text source keep their physical order, so `_source_line` is the line number
    (header = 1). Each line is parsed with from_csv (RFC 4180 quoting). A quoted field spanning several
    lines is not supported (UCI files have none). Blank lines are not rows and are skipped."""
    mapping = map_columns(source.header, str(source.path))
    text = with_row_number(spark.read.text(str(read_path)), "_source_line")
    body = text.where((F.col("_source_line") > 1) & (F.col("value") != ""))
    schema = ", ".join(f"c{i} string" for i in range(len(source.header)))
    parsed = body.select(
        F.from_csv(F.col("value"), schema, {"escape": '"', "mode": "PERMISSIVE"}).alias("r"),
        "_source_line",
    )
    return parsed.select(
        *[F.col(f"r.c{mapping[column]}").alias(column) for column in RAW_COLUMNS],
        F.col("_source_line"),
        F.lit(str(source.path)).alias("_source_file"),
    )


# ---------------------------------------------------------------- Parquet


def inspect_parquet(spark: SparkSession, source: Source) -> None:
    try:
        frame = spark.read.parquet(str(source.path))
        columns = frame.columns
        empty = frame.limit(1).count() == 0
    except Exception as exc:  # Spark raises AnalysisException / Py4J errors for unreadable files
        raise SegmentationError(
            f"{source.path}: cannot be read as Parquet ({str(exc).splitlines()[0]})"
        ) from exc
    map_columns(columns, str(source.path))
    if empty:
        raise SegmentationError(f"{source.path}: empty file (no rows)")


def read_parquet(
    spark: SparkSession, path: Path, source_file: str, *, line_column: str | None = None
) -> DataFrame:
    """Every column cast to string; native timestamps written as yyyy-MM-dd HH:mm:ss. A Parquet row has no
    physical line, so `_source_line` is the 1-based row number in Spark's read order (file order for one
    file), unless the file carries its own line column (converted workbooks do)."""
    frame = spark.read.parquet(str(path))
    mapping = map_columns(frame.columns, source_file)
    if line_column is None:
        frame = with_row_number(frame, "_source_line")
        line = F.col("_source_line")
    else:
        line = F.col(line_column).cast("bigint")
    names = frame.columns
    return frame.select(
        *[_as_text(frame, names[mapping[column]]).alias(column) for column in RAW_COLUMNS],
        line.alias("_source_line"),
        F.lit(source_file).alias("_source_file"),
    )


def _as_text(frame: DataFrame, name: str) -> Column:
    column = frame[name]
    if isinstance(frame.schema[name].dataType, TimestampType | TimestampNTZType | DateType):
        return F.date_format(column, TIMESTAMP_FORMAT)
    return column.cast("string")


# ---------------------------------------------------------------- row numbers


def with_row_number(frame: DataFrame, name: str) -> DataFrame:
    """Add a 1-based row number in read order, without sending rows through Python (unlike
    rdd.zipWithIndex). Single-partition inputs (every .gz file) need no extra pass; otherwise one
    small job counts rows per partition and the offsets are added as a literal map."""
    frame = frame.withColumn("_mid", F.monotonically_increasing_id())
    partition = F.shiftright(F.col("_mid"), _ROW_BITS)
    index = F.col("_mid").bitwiseAND(F.lit((1 << _ROW_BITS) - 1))
    if frame.rdd.getNumPartitions() <= 1:
        number = index + 1
    else:
        counts = sorted(
            (row["p"], row["n"])
            for row in frame.groupBy(partition.alias("p")).agg(F.count(F.lit(1)).alias("n")).collect()
        )
        pairs: list[Column] = []
        running = 0
        for part, rows in counts:
            pairs += [F.lit(part), F.lit(running)]
            running += rows
        number = F.create_map(*pairs)[partition] + index + 1
    return frame.withColumn(name, number.cast("bigint")).drop("_mid")
