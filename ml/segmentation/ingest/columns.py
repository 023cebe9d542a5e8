"""Column-name matching for input files (SPEC 1).

Names match case-insensitively, ignoring spaces and underscores, so `InvoiceNo`, `invoice_no` and
`Invoice No` are one column. The Online Retail II names `Invoice`, `Price` and `Customer ID` are accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import yaml

from segmentation.config import find_project_dir
from segmentation.errors import SegmentationError

# The raw table's data columns, in table order. All are strings at ingest (staging types them).
RAW_COLUMNS: tuple[str, ...] = (
    "invoice_no",
    "stock_code",
    "description",
    "quantity",
    "invoice_date",
    "unit_price",
    "customer_id",
    "country",
)


@cache
def aliases() -> dict[str, str]:
    """Normalised header name -> raw column: the dbt var `input_column_aliases` (dbt_project.yml), which
    staging also reads to recognise a repeated header row."""
    project = yaml.safe_load((find_project_dir() / "dbt_project.yml").read_text())
    return dict(project["vars"]["input_column_aliases"])


def normalise(name: str) -> str:
    """`Customer ID`, `customer_id` and `CUSTOMERID` all become `customerid`."""
    return "".join(ch for ch in name.strip().lower() if ch not in " _")


def map_columns(header: Sequence[str], source: str) -> dict[str, int]:
    """Raw column -> position in `header`. Extra columns are ignored; the first match wins when a file
    carries two spellings of one column. A missing column raises, naming the file and the column."""
    found: dict[str, int] = {}
    for position, name in enumerate(header):
        column = aliases().get(normalise(str(name)))
        if column is not None and column not in found:
            found[column] = position
    missing = [column for column in RAW_COLUMNS if column not in found]
    if missing:
        wanted = ", ".join(_display(column) for column in missing)
        raise SegmentationError(f"{source}: missing required column(s) {wanted}{_found(header)}")
    return found


def _display(column: str) -> str:
    # Name the column the way users see it in UCI headers, with the canonical name beside it.
    uci = {
        "invoice_no": "InvoiceNo",
        "stock_code": "StockCode",
        "description": "Description",
        "quantity": "Quantity",
        "invoice_date": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
        "country": "Country",
    }[column]
    return f"{uci} ({column})"


def _found(header: Sequence[str]) -> str:
    # What the file does have, shortened and printable, so a surprising header is visible in the message.
    names = [repr(str(name))[:40] for name in list(header)[:12]]
    more = ", ..." if len(header) > 12 else ""
    return f"; the header has {', '.join(names)}{more}" if names else "; the header is empty"
