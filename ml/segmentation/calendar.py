"""The history calendar's options (SPEC 10), checked before anything is touched.

`segmentation run --history-dates ...` / `--history-start ... --history-step week|month` reach dbt as the
vars of macros/history_calendar.sql, which checks them again for plain `dbt` users. Here they are checked
twice before any table changes: their form (dates, order, steps) before the ingest starts, and against the
data (after the first purchase, not after the run's as-of date) while the new rows are staged but not yet
visible (the ingest's before_commit). The data check types InvoiceDate with the staging model's own macros
(macros/parsing.sql, rendered here by Jinja), so there is one definition of the formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.config import find_project_dir
from segmentation.errors import SegmentationError

STEPS = ("week", "month")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_date(value: str, what: str) -> date:
    if not _DATE.fullmatch(value or ""):
        raise SegmentationError(f"{what} {value!r} is not a YYYY-MM-DD date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SegmentationError(f"{what} {value} is not a calendar date") from None


@dataclass(frozen=True)
class CalendarOptions:
    dates: list[str] = field(default_factory=list)
    start: str | None = None
    step: str | None = None

    def validate(self, as_of_date: str | None) -> CalendarOptions:
        """The checks that need no data; `as_of_date` is the run's, when given."""
        if self.dates and self.start:
            raise SegmentationError("give --history-dates or --history-start, not both")
        if self.step and not self.start:
            raise SegmentationError("--history-step needs --history-start")
        if self.step and self.step not in STEPS:
            raise SegmentationError(f"--history-step must be week or month, got {self.step!r}")
        as_of = parse_date(as_of_date, "--as-of-date") if as_of_date else None
        previous: date | None = None
        for text in self.dates:
            day = parse_date(text, "history date")
            if previous is not None and day == previous:
                raise SegmentationError(f"history date {text} is given twice")
            if previous is not None and day < previous:
                raise SegmentationError(f"history date {text} comes after {previous} (give the dates in order)")
            if as_of is not None and day > as_of:
                raise SegmentationError(f"history date {text} is after the run's as-of date {as_of}")
            previous = day
        if self.start:
            start = parse_date(self.start, "--history-start")
            if as_of is not None and start > as_of:
                raise SegmentationError(f"--history-start {self.start} is after the run's as-of date {as_of}")
        return self

    def dbt_vars(self) -> dict[str, object]:
        if self.dates:
            return {"history_dates": list(self.dates)}
        if self.start:
            return {"history_start": self.start, "history_step": self.step or "month"}
        return {}

    def given_dates(self) -> list[date]:
        return [date.fromisoformat(d) for d in self.dates] + ([date.fromisoformat(self.start)] if self.start else [])


@cache
def _typing_expressions() -> tuple[str, str, str, str]:
    """SQL for the staging model's typing of InvoiceDate, Quantity and UnitPrice, and for the key columns'
    presence, rendered from macros/parsing.sql."""
    import jinja2

    source = (find_project_dir() / "macros" / "parsing.sql").read_text()
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = env.from_string(source).module
    trimmed = "nullif(trim({}), '')"
    return (
        str(module.parse_invoice_date(trimmed.format("invoice_date"))),
        str(module.parse_whole_number(trimmed.format("quantity"))),
        str(module.parse_decimal_number(trimmed.format("unit_price"))),
        f"{trimmed.format('invoice_no')} is not null and {trimmed.format('stock_code')} is not null",
    )


def check_against_data(
    options: CalendarOptions, as_of_date: str | None
) -> object:
    """A before_commit check for the ingest: the given dates and as-of date against the staged rows."""

    def check(spark: SparkSession, staged: DataFrame) -> None:
        given = options.given_dates()
        if not given and not as_of_date:
            return
        invoice_date, quantity, price, keys = _typing_expressions()
        typed = staged.where(keys).select(
            F.expr(invoice_date).alias("at"), F.expr(quantity).alias("q"), F.expr(price).alias("p")
        ).where("at is not null and q is not null and p is not null")
        row = typed.agg(F.min("at").alias("first"), F.max("at").alias("last")).first()
        if row is None or row["first"] is None:
            return  # no typable row: staging and its tests say why
        first: datetime = row["first"]
        as_of = date.fromisoformat(as_of_date) if as_of_date else row["last"].date() + timedelta(days=1)
        if as_of_date and datetime.combine(as_of, datetime.min.time()) <= first:
            raise SegmentationError(
                f"--as-of-date {as_of_date} is not after the first purchase ({first:%Y-%m-%d %H:%M}); "
                "no customer would have a purchase before it"
            )
        for day in given:
            if datetime.combine(day, datetime.min.time()) <= first:
                raise SegmentationError(
                    f"history date {day} is not after the first purchase ({first:%Y-%m-%d %H:%M}); "
                    "no customer would have a purchase before it"
                )
            if day > as_of:
                raise SegmentationError(f"history date {day} is after the run's as-of date {as_of}")

    return check
