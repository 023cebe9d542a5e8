"""The reference's rules and helpers. Business constants are read from where the project keeps them (the
seeds and dbt vars), never copied: non-merchandise codes, segment rules, reject reasons, header aliases.
What the reference implements independently is the logic; the helpers below work on small per-customer
results or on value histograms, never on the data path at scale."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from segmentation.ingest.columns import RAW_COLUMNS

PROJECT_DIR = Path(__file__).resolve().parents[1]
SEEDS = PROJECT_DIR / "seeds"
TYPED_COLUMNS = list(RAW_COLUMNS)
OTHERS = "Others"  # SPEC 8: the segment of a score cell no rule covers


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def non_merchandise_codes() -> tuple[str, ...]:
    """SPEC 3: the seed non_merchandise_stock_codes, upper-cased as staging compares them."""
    return tuple(row["stock_code"].strip().upper() for row in _seed("non_merchandise_stock_codes"))


@cache
def segment_rules() -> tuple[tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]], ...]:
    """SPEC 8: the seed rfm_segment_rules as (segment, (r_min, r_max), (f..), (m..)) in priority order."""
    rows = sorted(_seed("rfm_segment_rules"), key=lambda row: int(row["priority"]))
    return tuple(
        (
            row["segment"],
            (int(row["r_min"]), int(row["r_max"])),
            (int(row["f_min"]), int(row["f_max"])),
            (int(row["m_min"]), int(row["m_max"])),
        )
        for row in rows
    )


@cache
def reject_reasons() -> tuple[str, ...]:
    """The seed reject_reasons, in check order."""
    return tuple(row["reject_reason"] for row in sorted(_seed("reject_reasons"), key=lambda r: int(r["check_order"])))


# spec_decisions: typing rules (the reference implements them with its own expressions).
QUANTITY_RE = r"^[+-]?[0-9]+(\.0+)?$"
PRICE_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# The two ISO formats (yyyy-MM-dd HH:mm:ss, yyyy-MM-dd HH:mm) by Spark's timestamp cast behind this regex,
# then M/d/yyyy H:mm by a pattern: the pipeline's parse_invoice_date (macros/parsing.sql says why).
ISO_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$"
US_DATE_FORMAT_SPARK = "M/d/yyyy H:mm"


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
    """What the reference returns; `customers_df` is its per-customer Spark frame
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
