"""The UCI Excel workbook: every sheet stacked.

openpyxl reads the workbook in read-only (streaming) mode and each sheet is written, 50,000 rows at a
time, to a temporary all-string Parquet file that carries the Excel row number, so memory stays constant
and cell text needs no CSV quoting. The Parquet files are then loaded like any Parquet input.

Traceability: `_source_file` is `<absolute path>#<sheet name>` and `_source_line` is the Excel row number
(the header is row 1). Rows with no value at all are skipped, so numbering keeps Excel's gaps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from segmentation.errors import SegmentationError
from segmentation.ingest.columns import RAW_COLUMNS, map_columns
from segmentation.ingest.readers import Source

CHUNK_ROWS = 50_000
LINE_COLUMN = "_source_line"
_SCHEMA = pa.schema([*(pa.field(c, pa.string()) for c in RAW_COLUMNS), pa.field(LINE_COLUMN, pa.int64())])


@contextmanager
def _workbook(path: Path) -> Iterator[Any]:
    import openpyxl  # lazy: only workbook inputs need it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise SegmentationError(f"{path}: cannot be read as an Excel workbook ({exc})") from exc
    try:
        yield book
    finally:
        book.close()


def sheet_source(path: Path, sheet: str) -> str:
    return f"{path}#{sheet}"


def inspect_xlsx(source: Source) -> None:
    """Check every sheet's header. Sheets with no cells are skipped; a workbook with no data row fails."""
    with _workbook(source.path) as book:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(min_row=1, max_row=2, values_only=True)
            header = next(rows, None)
            if header is None or all(v is None for v in header):
                continue
            map_columns(["" if v is None else str(v) for v in header], sheet_source(source.path, sheet.title))
            if any(v is not None for v in next(rows, ())):
                source.sheets.append(sheet.title)
    if not source.sheets:
        raise SegmentationError(f"{source.path}: empty workbook (no sheet with a header and data rows)")


def convert_xlsx(source: Source, tmp_dir: Path) -> list[tuple[str, Path]]:
    """Write each data sheet to `<tmp_dir>/<n>.parquet`; returns (source_file, parquet path) pairs."""
    out: list[tuple[str, Path]] = []
    with _workbook(source.path) as book:
        for sheet_name in source.sheets:
            sheet = book[sheet_name]
            name = sheet_source(source.path, sheet_name)
            target = tmp_dir / f"{len(list(tmp_dir.iterdir())):05d}.parquet"
            _convert_sheet(sheet, name, target)
            out.append((name, target))
    return out


def _convert_sheet(sheet: Any, name: str, target: Path) -> None:
    rows = sheet.iter_rows(values_only=True)
    header = ["" if v is None else str(v) for v in next(rows)]
    mapping = map_columns(header, name)
    positions = [mapping[c] for c in RAW_COLUMNS]
    buffers: list[list[str | None]] = [[] for _ in RAW_COLUMNS]
    lines: list[int] = []
    with pq.ParquetWriter(target, _SCHEMA) as writer:
        for excel_row, values in enumerate(rows, start=2):
            if all(v is None for v in values):
                continue
            for buffer, position in zip(buffers, positions, strict=True):
                buffer.append(cell_text(values[position]) if position < len(values) else None)
            lines.append(excel_row)
            if len(lines) >= CHUNK_ROWS:
                _flush(writer, buffers, lines)
        _flush(writer, buffers, lines)


def _flush(writer: pq.ParquetWriter, buffers: list[list[str | None]], lines: list[int]) -> None:
    if not lines:
        return
    arrays = [pa.array(b, pa.string()) for b in buffers] + [pa.array(lines, pa.int64())]
    writer.write_table(pa.Table.from_arrays(arrays, schema=_SCHEMA))
    for buffer in buffers:
        buffer.clear()
    lines.clear()


def cell_text(value: object) -> str | None:
    """Cell -> raw text. Dates as yyyy-MM-dd HH:mm:ss (no time zone, as in the workbook); numbers in
    Python's shortest form, so 17850.0 stays `17850.0` (staging strips the `.0`)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d 00:00:00")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    return str(value)
