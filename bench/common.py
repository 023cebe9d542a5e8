"""Constants and small helpers shared by the floor and the pandas implementation, so both read the
same SPEC rules from one place. Nothing here touches the data path at scale: the helpers work on
small per-customer results or on value histograms."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# SPEC 1: canonical raw column -> accepted header spellings (compared after normalise_header).
CANONICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "invoice_no": ("invoiceno", "invoice"),
    "stock_code": ("stockcode",),
    "description": ("description",),
    "quantity": ("quantity",),
    "invoice_date": ("invoicedate",),
    "unit_price": ("unitprice", "price"),
    "customer_id": ("customerid",),
    "country": ("country",),
}
TYPED_COLUMNS = list(CANONICAL_COLUMNS)

# SPEC 3 default seed `non_merchandise_stock_codes`.
NON_MERCHANDISE_CODES: tuple[str, ...] = (
    "POST",
    "DOT",
    "M",
    "C2",
    "D",
    "S",
    "BANK CHARGES",
    "AMAZONFEE",
    "CRUK",
    "PADS",
    "B",
    "ADJUST",
    "ADJUST2",
    "TEST001",
    "TEST002",
)

# spec_decisions: typing rules.
QUANTITY_RE = r"^[+-]?[0-9]+(\.0+)?$"
PRICE_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# The two ISO formats (yyyy-MM-dd HH:mm:ss, yyyy-MM-dd HH:mm) by Spark's timestamp cast behind this regex,
# then M/d/yyyy H:mm by a pattern: the pipeline's parse_invoice_date (macros/parsing.sql says why).
ISO_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$"
US_DATE_FORMAT_SPARK = "M/d/yyyy H:mm"
DATE_FORMATS_PY = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M")
REJECT_REASONS = (
    "missing_invoice_no",
    "missing_stock_code",
    "bad_quantity",
    "bad_invoice_date",
    "bad_unit_price",
)

# SPEC 8 seed `rfm_segment_rules`: (segment, (r_lo, r_hi), (f_lo, f_hi), (m_lo, m_hi)) in priority order.
SEGMENT_RULES: tuple[tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]], ...] = (
    ("Champions", (5, 5), (5, 5), (5, 5)),
    ("Potential Loyalist", (3, 5), (3, 5), (2, 5)),
    ("Loyal Customers", (2, 4), (2, 4), (2, 4)),
    ("Promising", (3, 4), (1, 3), (3, 5)),
    ("New Customers", (4, 5), (1, 3), (1, 5)),
    ("Can't Lose Them", (1, 2), (3, 4), (4, 5)),
    ("At Risk", (1, 2), (2, 5), (4, 5)),
    ("Need Attention", (1, 3), (3, 5), (3, 5)),
    ("About To Sleep", (2, 3), (1, 3), (1, 4)),
    ("Lost", (1, 1), (1, 5), (1, 5)),
)
OTHERS = "Others"


def normalise_header(name: str) -> str:
    """SPEC 1: names match case-insensitively, ignoring spaces and underscores."""
    return re.sub(r"[\s_]+", "", name).lower()


def map_columns(headers: list[str]) -> dict[str, str]:
    """canonical name -> the file's header; a missing required column is a one-line error."""
    by_norm = {normalise_header(h): h for h in headers}
    mapping: dict[str, str] = {}
    for canonical, spellings in CANONICAL_COLUMNS.items():
        found = next((by_norm[s] for s in spellings if s in by_norm), None)
        if found is None:
            raise ValueError(f"required column {canonical!r} not found in header {headers}")
        mapping[canonical] = found
    return mapping


def spark_round2(value: float) -> float:
    """Spark's round(double, 2): HALF_UP on the shortest decimal form of the double (Scala
    BigDecimal(d)), which differs from Python's round() and numpy's half-even at .xx5."""
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def spark_percentile(hist: list[tuple[float, int]], p: float) -> float:
    """Exact percentile with linear interpolation from a (value, count) histogram, with the same
    arithmetic as Spark's `percentile` aggregate: (hi_pos - pos) * lo + (pos - lo_pos) * hi."""
    items = sorted(hist)
    total = sum(c for _, c in items)
    if total == 0:
        return float("nan")
    position = (total - 1) * p
    lower_pos, higher_pos = int(position // 1), int(-(-position // 1))

    def value_at(index: int) -> float:
        seen = 0
        for value, count in items:
            seen += count
            if index < seen:
                return float(value)
        return float(items[-1][0])

    lower, higher = value_at(lower_pos), value_at(higher_pos)
    if higher_pos == lower_pos:
        return lower
    return (higher_pos - position) * lower + (position - lower_pos) * higher


def iqr_fences(hist: list[tuple[float, int]], k: float) -> tuple[float, float]:
    q1, q3 = spark_percentile(hist, 0.25), spark_percentile(hist, 0.75)
    iqr = q3 - q1
    return q1 - k * iqr, q3 + k * iqr


def outlier_summary(pair_hist: list[tuple[int, float, int]], k: float) -> dict[str, Any]:
    """SPEC 6 from a (quantity, effective_unit_price, count) histogram of the in-window merchandise
    purchase lines: fences for both columns and the number of lines outside either."""
    q_hist: dict[float, int] = {}
    p_hist: dict[float, int] = {}
    for q, p, c in pair_hist:
        q_hist[q] = q_hist.get(q, 0) + c
        p_hist[p] = p_hist.get(p, 0) + c
    q_lo, q_hi = iqr_fences(list(q_hist.items()), k)
    p_lo, p_hi = iqr_fences(list(p_hist.items()), k)
    outliers = sum(c for q, p, c in pair_hist if q < q_lo or q > q_hi or p < p_lo or p > p_hi)
    return {
        "quantity_fences": [q_lo, q_hi],
        "unit_price_fences": [p_lo, p_hi],
        "outlier_lines": int(outliers),
    }


class Laps:
    """Step timings of a benchmark way: each call records the seconds since the previous one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._started, 3)
        self._started = now


@dataclass
class FloorResult:
    """What every benchmark way returns; `customers_df` is a Spark or pandas per-customer frame
    (customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, segment, cluster)."""

    customers: int
    total_monetary: float
    segment_counts: dict[str, int]
    cluster_sizes: list[int]
    stats: dict[str, Any] = field(default_factory=dict)
    customers_df: Any = None

    def summary(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "total_monetary": self.total_monetary,
            "segment_counts": dict(sorted(self.segment_counts.items())),
            "cluster_sizes": self.cluster_sizes,
            "stats": self.stats,
        }
