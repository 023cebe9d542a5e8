"""The tables every benchmark way must produce, and the fingerprints that show they hold the same data.

The pipeline's job is not a few figures but a warehouse: raw.transactions, the rejects, the line, order,
product and customer marts, the quality marts and the ml tables. The floor and the pandas way build the
same tables (the floor in its own `floor_*` schemas, pandas as Parquet folders), and the harness compares
each table's fingerprint: its row count and a few exact sums and hashes over the columns that do not
depend on the clustering library (scikit-learn and MLlib assign different clusters).

A fingerprint is computed by Spark SQL over the written table, in a process of its own after the way has
finished (`python -m bench.run_way --way fingerprint`), so it is never part of a way's time.
"""

from __future__ import annotations

from typing import Any

# logical name -> (schema, table) in the pipeline's warehouse. The floor writes `floor_<schema>.<table>`;
# pandas writes `<folder>/<schema>.<table>/` Parquet.
OUTPUT_TABLES: dict[str, tuple[str, str]] = {
    "raw_transactions": ("raw", "transactions"),
    "rejected_lines": ("marts", "rejected_lines"),
    "fct_order_lines": ("marts", "fct_order_lines"),
    "fct_orders": ("marts", "fct_orders"),
    "product_performance": ("marts", "product_performance"),
    "customer_rfm": ("marts", "customer_rfm"),
    "dim_customers": ("marts", "dim_customers"),
    "segment_summary": ("marts", "segment_summary"),
    "segment_by_country": ("marts", "segment_by_country"),
    "data_quality_summary": ("marts", "data_quality_summary"),
    "cancellation_assumption_checks": ("marts", "cancellation_assumption_checks"),
    "customer_clusters": ("ml", "customer_clusters"),
    "cluster_centroids": ("ml", "cluster_centroids"),
    "k_sweep": ("ml", "k_sweep"),
    "model_runs": ("ml", "model_runs"),
}


def _cents(column: str) -> str:
    # Exact: every way's money is a decimal or a double rounded to 6 places per line.
    return f"cast(sum(cast({column} as decimal(38, 6))) * 100 as decimal(38, 0))"


def _money(column: str) -> str:
    # One text form for money in a hash, whether a way wrote it as a decimal or a double.
    return f"cast({column} as decimal(38, 2))"


def _ratio(column: str) -> str:
    # A ratio in a hash: six places, whether a way computed it as a double or a decimal.
    return f"cast(round(cast({column} as double), 6) as decimal(38, 6))"


def _hash(*columns: str) -> str:
    # An order-independent hash of whole rows; casts make a pandas int64 and a Spark int hash alike.
    parts = ", ".join(f"cast({c} as string)" for c in columns)
    return f"cast(sum(cast(xxhash64({parts}) as decimal(38, 0))) as string)"


# logical name -> (optional filter, {figure: SQL aggregate}). Only what all three ways compute alike.
FINGERPRINTS: dict[str, tuple[str | None, dict[str, str]]] = {
    "raw_transactions": (None, {"rows": "count(*)", "lines": "sum(_source_line)"}),
    "rejected_lines": (None, {"rows": "count(*)", "reasons": _hash("reject_reason", "_source_line")}),
    "fct_order_lines": (
        None,
        {
            "rows": "count(*)",
            "quantity": "sum(quantity)",
            "net_quantity": "sum(net_quantity)",
            "net_revenue_cents": _cents("net_revenue"),
            "gross_revenue_cents": _cents("gross_revenue"),
            # The capped values carry the outlier fences (SPEC 6).
            "net_revenue_capped_cents": _cents("net_revenue_capped"),
            "quantity_capped_cents": _cents("quantity_capped"),
            "unit_price_capped_cents": _cents("unit_price_capped"),
            "matched_units": "sum(matched_units)",
            "cancelled_units": "sum(cancelled_units)",
            "outliers": "count_if(is_outlier)",
            "in_scope": "count_if(is_in_matching_scope)",
            "price_imputed": "count_if(is_price_imputed)",
            "customer_imputed": "count_if(is_customer_imputed)",
            "lines": _hash("line_id", "customer_id", "line_kind", "match_status", "price_imputation_status"),
        },
    ),
    "fct_orders": (
        None,
        {
            "rows": "count(*)",
            "lines": "sum(line_count)",
            "products": "sum(distinct_products)",
            "net_revenue_cents": _cents("net_revenue"),
            "orders": _hash("invoice_no", "customer_id", "invoice_kind", "country", "line_count"),
        },
    ),
    "product_performance": (
        None,
        {
            "rows": "count(*)",
            "orders": "sum(orders)",
            "customers": "sum(customers)",
            "cancelled_units": "sum(cancelled_units)",
            "net_revenue_cents": _cents("net_revenue"),
            "products": _hash("stock_code", "description", "top_rfm_segments", "revenue_rank"),
        },
    ),
    "customer_rfm": (
        None,
        {
            "rows": "count(*)",
            "monetary_cents": _cents("monetary"),
            "frequency": "sum(frequency)",
            "recency_days": "sum(recency_days)",
            "customers": _hash(
                "customer_id",
                "rfm_segment",
                "main_country",
                "r_score",
                "f_score",
                "m_score",
                "distinct_products",
                "purchased_units",
                "cancelled_units",
                _money("avg_order_value"),
                "tenure_days",
                "first_purchase_at",
                _ratio("cancellation_rate"),
            ),
        },
    ),
    "dim_customers": (
        None,
        {"rows": "count(*)", "clustered": "count(cluster_id)", "customers": _hash("customer_id", "rfm_segment")},
    ),
    "segment_summary": (
        "segment_kind = 'rfm_segment'",
        {"rows": "count(*)", "segments": _hash("segment", "customers", _money("revenue"))},
    ),
    "segment_by_country": (
        "segment_kind = 'rfm_segment'",
        {"rows": "count(*)", "cells": _hash("segment", "country", "customers", _money("revenue"))},
    ),
    # The duplicates-across-files count is checked on the two UCI files (test_real_data.py), not by the floor.
    "data_quality_summary": (
        "section != 'duplicates'",
        {"rows": "count(*)", "metrics": _hash("section", "metric", "row_count")},
    ),
    "cancellation_assumption_checks": (
        None,
        {"rows": "count(*)", "checks": _hash("check_name", "matching_count", "total_count")},
    ),
    "customer_clusters": (None, {"rows": "count(*)"}),
    "cluster_centroids": (None, {"rows": "count(*)"}),
    "k_sweep": (None, {"rows": "count(*)", "ks": "sum(k)"}),
    "model_runs": (None, {"rows": "count(*)"}),
}


def fingerprints(spark: Any, locate: Any) -> dict[str, dict[str, Any]]:
    """{table: {figure: value}}; `locate(logical_name)` gives a DataFrame of that table (or None when
    the way did not write it, recorded as missing)."""
    found: dict[str, dict[str, Any]] = {}
    for name, (condition, figures) in FINGERPRINTS.items():
        frame = locate(name)
        if frame is None:
            found[name] = {"missing": True}
            continue
        if condition:
            frame = frame.where(condition)
        row = frame.selectExpr(*(f"{sql} as `{figure}`" for figure, sql in figures.items())).first()
        found[name] = {figure: (None if row[figure] is None else str(row[figure])) for figure in figures}
    return found


def in_warehouse(spark: Any, prefix: str = "") -> Any:
    """A `locate` for the tables a Spark way wrote into this session's warehouse (`prefix`ed schemas)."""

    def locate(name: str) -> Any:
        schema, table = OUTPUT_TABLES[name]
        qualified = f"{prefix}{schema}.{table}"
        return spark.table(qualified) if spark.catalog.tableExists(qualified) else None

    return locate


def in_folder(spark: Any, folder: Any) -> Any:
    """A `locate` for Parquet folders `<folder>/<schema>.<table>/` (the pandas way's tables)."""
    from pathlib import Path

    def locate(name: str) -> Any:
        schema, table = OUTPUT_TABLES[name]
        path = Path(folder) / f"{schema}.{table}"
        return spark.read.parquet(str(path)) if path.is_dir() else None

    return locate
