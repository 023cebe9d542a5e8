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
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, FloatType, TimestampNTZType, TimestampType

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
    transcoded: Path | None = None  # csv in another encoding: its UTF-8 copy, made once


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
    """Read the header (first line) with Python and check that a data row follows within the first
    thousand lines. A decoding error there names its line; later ones are caught by the full read."""
    line_number = 0
    try:
        with _open_text(source.path, encoding) as handle:
            first = handle.readline().removeprefix("\ufeff")
            line_number = 1
            if not first.strip():
                raise SegmentationError(f"{source.path}: empty file (no header row)")
            has_row = False
            for line in handle:
                line_number += 1
                if line.strip():
                    has_row = True
                    break
                if line_number > 1000:
                    has_row = True  # a thousand blank lines: let the full read decide
                    break
    except UnicodeDecodeError:
        # The decoder reads ahead in blocks, so its error does not say which line: find it.
        line = _first_undecodable_line(source.path, encoding)
        raise SegmentationError(not_encoded_message(source.path, encoding, line)) from None
    except (OSError, EOFError, LookupError) as exc:
        raise SegmentationError(f"{source.path}: cannot be read as {encoding} CSV ({exc})") from None
    if not has_row:
        raise SegmentationError(f"{source.path}: empty file (header but no data rows)")
    source.header = next(csv.reader([first]))
    if len(source.header) == 1:
        for delimiter in (";", "\t", "|"):
            if delimiter in source.header[0]:
                shown = "tab" if delimiter == "\t" else repr(delimiter)
                raise SegmentationError(
                    f"{source.path}: the header is separated by {shown}, not commas; "
                    "save the file as comma-separated CSV"
                )
    map_columns(source.header, str(source.path))


def not_encoded_message(path: Path | str, encoding: str, line: int | None) -> str:
    where = f"line {line}" if line else "the file"
    return f"{path}: {where} is not valid {encoding}; pass the file's encoding, e.g. --encoding ISO-8859-1"


def _first_undecodable_line(path: Path, encoding: str, limit: int = 100_000) -> int | None:
    """The number of the first line (header = 1) that `encoding` cannot decode, within `limit` lines."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        for number, raw in enumerate(handle, start=1):
            if number > limit:
                return None
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number
    return None


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
    except UnicodeDecodeError as exc:
        raise SegmentationError(
            f"{source.path}: not valid {encoding} (byte 0x{exc.object[exc.start]:02x}); check --encoding"
        ) from None
    except (OSError, EOFError, LookupError) as exc:
        raise SegmentationError(f"{source.path}: cannot be read as {encoding} ({exc})") from None
    return target


def is_utf8(encoding: str) -> bool:
    return encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig")


# A record's first line with an odd number of quote characters opens a quoted field that a later line closes
# (RFC 4180 allows newlines inside quotes). Such files are rare: the first read stops at the first such line
# (USER_RAISED_EXCEPTION carrying MULTILINE_MARKER) and only then is the file read again in record mode.
MULTILINE_MARKER = "segmentation:multi-line-record"
NOT_UTF8_MARKER = "segmentation:not-utf-8"
MAX_RECORD_LINES = 50  # a quoted field spanning more lines than this is a missing quote, not a record
MAX_MULTILINE_RECORDS = 100_000


def _odd_quotes(value: Column) -> Column:
    return ((F.length(value) - F.length(F.regexp_replace(value, '"', ""))) % 2) == 1


def read_csv(spark: SparkSession, source: Source, read_path: Path, *, check_utf8: bool = True,
             multiline: bool = False) -> DataFrame:
    """Lines via the text source keep their physical order, so `_source_line` is the line a record starts
    on (header = 1). Each record is parsed with from_csv (RFC 4180 quoting). Blank lines are not records.
    `check_utf8`: a line holding bytes that are not UTF-8 (Spark's text source passes them through
    undecoded) stops the read with a message naming the line. `multiline`: records whose quoted fields
    span lines are joined first."""
    mapping = map_columns(source.header, str(source.path))
    text = with_row_number(spark.read.text(str(read_path)), "_source_line")
    value = F.col("value")
    if check_utf8:
        value = F.when(
            ~F.is_valid_utf8(value),
            F.raise_error(F.concat(F.lit(f"{NOT_UTF8_MARKER}|{source.path}|"), F.col("_source_line").cast("string"))),
        ).otherwise(value)
    if multiline:
        records = _join_multiline_records(spark, source, text.select(value.alias("value"), "_source_line"))
    else:
        value = F.when(
            _odd_quotes(F.col("value")),
            F.raise_error(F.concat(F.lit(f"{MULTILINE_MARKER}|{source.path}|"), F.col("_source_line").cast("string"))),
        ).otherwise(value)
        records = text.select(value.alias("value"), "_source_line")
    body = records.where((F.col("_source_line") > 1) & (F.col("value") != ""))
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


def _join_multiline_records(spark: SparkSession, source: Source, lines: DataFrame) -> DataFrame:
    """Lines (value, _source_line) -> records: the lines from one with an odd quote count to the next such
    line are one record, numbered by its first line. Only those lines are collected (at most
    MAX_MULTILINE_RECORDS pairs); every other line stays a record of its own."""
    odd = [
        int(row["_source_line"])
        for row in lines.where(_odd_quotes(F.col("value")))
        .select("_source_line")
        .orderBy("_source_line")
        .limit(2 * MAX_MULTILINE_RECORDS + 1)
        .collect()
    ]
    if len(odd) > 2 * MAX_MULTILINE_RECORDS:
        raise SegmentationError(f"{source.path}: more than {MAX_MULTILINE_RECORDS:,} records span several lines")
    if len(odd) % 2:
        raise SegmentationError(f"{source.path}: line {odd[-1]}: a quoted field is never closed")
    spans = list(zip(odd[0::2], odd[1::2], strict=True))
    for start, end in spans:
        if end - start + 1 > MAX_RECORD_LINES:
            raise SegmentationError(
                f"{source.path}: line {start}: a quoted field runs over {MAX_RECORD_LINES} lines (to line {end}); "
                "is a closing quote missing?"
            )
    members = spark.createDataFrame(
        [(line, start) for start, end in spans for line in range(start, end + 1)],
        "member_line bigint, record_line bigint",
    )
    tagged = lines.join(F.broadcast(members), lines["_source_line"] == members["member_line"], "left")
    single = tagged.where(F.col("record_line").isNull()).select("value", "_source_line")
    joined = (
        tagged.where(F.col("record_line").isNotNull())
        .groupBy("record_line")
        .agg(F.sort_array(F.collect_list(F.struct("_source_line", "value"))).alias("parts"))
        .select(
            F.concat_ws("\n", F.col("parts.value")).alias("value"),
            F.col("record_line").alias("_source_line"),
        )
    )
    return single.unionByName(joined)


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
    """A typed Parquet value as the text a CSV export would hold: timestamps as yyyy-MM-dd HH:mm:ss, whole
    floating-point numbers as their digits (Spark writes 536365.0, and 1.2345678E7 from ten million up),
    everything else as Spark casts it."""
    column = frame[name]
    data_type = frame.schema[name].dataType
    if isinstance(data_type, TimestampType | TimestampNTZType | DateType):
        return F.date_format(column, TIMESTAMP_FORMAT)
    if isinstance(data_type, DoubleType | FloatType):
        whole = (column == F.floor(column)) & (F.abs(column) < F.lit(2.0**53))
        return F.when(whole, column.cast("bigint").cast("string")).otherwise(column.cast("string"))
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
