"""Is what the ML step reads older than raw.transactions? (`segmentation score` after a new ingest.)

Both sides are versioned with a UTC stamp in the version table's name: raw.transactions is a view onto
`internal_versions.raw__transactions__v<stamp>` (ingest/writer.py) and marts.customer_rfm a view onto
`internal_versions.customer_rfm__v<stamp>` (the swap_table materialization). A raw stamp newer than the
mart's means rows were ingested after the marts were built.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from segmentation.ingest import writer

ML_INPUT_MART = "marts.customer_rfm"


def version_stamp(spark: SparkSession, table: str) -> str | None:
    """The UTC stamp of the version a swap view reads, or None."""
    schema, name = table.split(".", 1)
    if not spark.catalog.tableExists(table):
        return None
    prefix = f"{name}__v"
    text = writer._view_text(spark, schema, name)  # noqa: SLF001 - one reader of view text for both layouts
    for token in text.replace("`", " ").replace(",", " ").split():
        candidate = token.rsplit(".", 1)[-1]
        if candidate.startswith(prefix):
            return candidate[len(prefix):]
    return None


def stale_ml_inputs(spark: SparkSession) -> str | None:
    """A sentence saying why the ML inputs are stale, or None when they are as new as the raw rows."""
    raw = writer.current_version(spark)
    return staleness(raw.rsplit("__v", 1)[1] if raw else None, version_stamp(spark, ML_INPUT_MART))


def staleness(raw_stamp: str | None, mart_stamp: str | None) -> str | None:
    if raw_stamp is None:
        return None
    if mart_stamp is None:
        return f"{ML_INPUT_MART} has not been built from raw.transactions yet"
    if raw_stamp > mart_stamp:
        return (f"raw.transactions (loaded {_readable(raw_stamp)} UTC) is newer than {ML_INPUT_MART} "
                f"(built {_readable(mart_stamp)} UTC)")
    return None


def _readable(stamp: str) -> str:
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}"
