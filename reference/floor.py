"""The Spark floor: the pipeline's whole job hand-written in PySpark, with no dbt.

Same input, same output tables (bench/tables.py): it loads the files with the project's own ingest into
`floor_raw.transactions`, then writes the rejects, `fct_order_lines`, `fct_orders`, `product_performance`,
`customer_rfm`, `dim_customers`, `segment_summary`, `segment_by_country`, `data_quality_summary`,
`cancellation_assumption_checks` and the four ml tables into `floor_*` schemas, with what a hand-written
job needs and nothing more:
- one pass over the raw rows, one shuffle by invoice: duplicates collapse in a group-by (no per-row fate
  table), the customer fill-in window rides on the same partitioning, and the result is cached;
- small aggregates collected to the driver (row fates, missing values, a value histogram for the exact
  IQR fences);
- one shuffle by (customer, stock code) for cancellation matching, then the one line-level table written
  once; every other mart reads back only the columns it needs from it;
- MLlib KMeans: the same k sweep as the pipeline (k = 2..10, cost and silhouette), keeping the fit at k.
It follows SPEC.md and docs/spec_decisions.md independently of the dbt models, and the harness checks that
its tables hold the same data as the pipeline's (bench/tables.py fingerprints).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.ml.clustering import KMeans, KMeansModel
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from reference.fingerprints import OUTPUT_TABLES
from reference.rules import (
    ISO_DATE_RE,
    OTHERS,
    PRICE_RE,
    QUANTITY_RE,
    TYPED_COLUMNS,
    US_DATE_FORMAT_SPARK,
    FloorResult,
    Laps,
    non_merchandise_codes,
    reject_reasons,
    segment_rules,
    spark_percentile,
)
from segmentation.clustering.config import DEFAULT_MAX_ITER, DEFAULT_TOL, sweep_ks
from segmentation.clustering.naming import name_clusters
from segmentation.clustering.select import sweep_concurrency
from segmentation.clustering.train import centroid_rows, profiles_from_centers
from segmentation.ingest import ingest_files

FLOOR_PREFIX = "floor_"
SEGMENT_ACTIONS = Path(__file__).resolve().parents[1] / "seeds" / "segment_actions.csv"
LINE_BITS = 40  # a raw row's position = file index << LINE_BITS | line: one bigint for min() in a hash aggregate
MONEY = "decimal(38,6)"
# marts.customer_rfm's columns after its ids and segment; dim_customers carries them too.
CUSTOMER_COLUMNS = (
    "main_country",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "tenure_days",
    "avg_order_value",
    "distinct_products",
    "purchased_units",
    "cancelled_units",
    "cancellation_rate",
    "as_of_date",
    "first_purchase_at",
    "last_purchase_at",
)


def table_name(logical: str, prefix: str = FLOOR_PREFIX) -> str:
    schema, table = OUTPUT_TABLES[logical]
    return f"{prefix}{schema}.{table}"


def _text(column: str) -> Column:
    # Spark's trim removes spaces only, as in staging.
    return F.nullif(F.trim(F.col(column)), F.lit(""))


def line_id(file: Column, line: Column) -> Column:
    """spec_decisions: `<file name>@<CRC-32 of the path, 8 hex digits>:<line>`."""
    name = F.regexp_extract(file, r"([^/]*)$", 1)
    return F.concat(name, F.lit("@"), F.lpad(F.lower(F.hex(F.crc32(file))), 8, "0"), F.lit(":"), line.cast("string"))


def _customer_id(text: Column) -> Column:
    """spec_decisions: float-written whole numbers are their digits, other numbers are no id, text stays."""
    number = text.try_cast("decimal(38,6)")
    return (
        F.when(text.rlike(r"^[0-9]+\.0*$"), F.regexp_extract(text, r"^([0-9]+)", 1))
        .when(
            text.rlike(r"^[0-9]*\.?[0-9]+[eE]\+?[0-9]+$"),
            F.when(number == F.floor(number), number.cast("decimal(38,0)").cast("string")),
        )
        .when(text.rlike(r"^[0-9]*\.[0-9]+$"), F.lit(None).cast("string"))
        .otherwise(text)
    )


def _is_header(text: dict[str, Column]) -> Column:
    """A data row repeating the header: InvoiceNo, StockCode and Quantity hold header names."""
    from segmentation.ingest.columns import aliases, normalise

    names = aliases()
    found = F.lit(True)
    for column in ("invoice_no", "stock_code", "quantity"):
        spellings = [alias for alias, target in names.items() if target == column]
        cleaned = F.lower(F.regexp_replace(text[column], "[ _]", ""))
        found = found & F.coalesce(cleaned.isin(*[normalise(a) for a in spellings]), F.lit(False))
    return found


def typed_rows(raw: DataFrame, files: list[str]) -> DataFrame:
    """SPEC 1-2: the raw strings typed, `reject_reason` (null for typable rows), the row's position as one
    bigint, and for rejected rows their trimmed raw text (null for the others)."""
    text = {name: _text(name) for name in TYPED_COLUMNS}
    qty, date, price = text["quantity"], text["invoice_date"], text["unit_price"]
    file_index = F.create_map(*[x for i, f in enumerate(files) for x in (F.lit(f), F.lit(i))])
    typed = raw.select(
        F.regexp_replace(F.upper(text["invoice_no"]), r"^([0-9]+)\.0+$", "$1").alias("invoice_no"),
        F.upper(text["stock_code"]).alias("stock_code"),
        text["description"].alias("description"),
        F.when(qty.rlike(QUANTITY_RE), F.regexp_extract(qty, r"^([+-]?[0-9]+)", 1).try_cast("bigint")).alias(
            "quantity"
        ),
        F.coalesce(
            F.when(date.rlike(ISO_DATE_RE), date.try_cast("timestamp")),
            F.try_to_timestamp(date, F.lit(US_DATE_FORMAT_SPARK)),
        ).alias("invoice_date"),
        F.when(price.rlike(PRICE_RE), price.try_cast("double")).alias("unit_price"),
        _customer_id(text["customer_id"]).alias("customer_id"),
        text["country"].alias("country"),
        text["customer_id"].isNull().alias("raw_customer_missing"),
        _is_header(text).alias("is_repeated_header"),
        (F.shiftleft(file_index[F.col("_source_file")].cast("bigint"), LINE_BITS) + F.col("_source_line")).alias(
            "position"
        ),
        F.struct(
            *[text[c].alias(c) for c in ("invoice_no", "stock_code", "quantity", "invoice_date", "unit_price")],
            text["customer_id"].alias("customer_id"),
            "_source_file",
            "_source_line",
            "_loaded_at",
        ).alias("raw"),
    )
    invoice = F.col("invoice_no")
    checks = {
        "repeated_header": F.col("is_repeated_header"),
        "missing_invoice_no": invoice.isNull(),
        "missing_stock_code": F.col("stock_code").isNull(),
        "bad_quantity": F.col("quantity").isNull(),
        "bad_invoice_date": F.col("invoice_date").isNull(),
        "bad_unit_price": F.col("unit_price").isNull(),
        "negative_unit_price": (F.col("unit_price") < 0)
        & ~invoice.startswith("C")
        & ~invoice.startswith("A")
        & (F.col("quantity") > 0),
        "bad_customer_id": F.col("raw.customer_id").isNotNull() & F.col("customer_id").isNull(),
    }
    reason: Column | None = None
    for label in reject_reasons():  # the seed's order; a reason the reference does not know fails here
        reason = F.when(checks[label], F.lit(label)) if reason is None else reason.when(checks[label], F.lit(label))
    return (
        typed.withColumn("reject_reason", reason)
        .withColumn("raw", F.when(F.col("reject_reason").isNotNull(), F.col("raw")))
        .drop("is_repeated_header")
    )


def distinct_lines(typed: DataFrame, files: list[str], non_merchandise: tuple[str, ...]) -> DataFrame:
    """One row per distinct typed line (`n` raw rows, the first one's position) and one per rejected row
    (its raw text in the key keeps it apart), with the customer fill-in (SPEC 3) and classification.
    One shuffle by invoice serves the duplicate grouping (its key holds invoice_no) and the fill-in window."""
    grouped = (
        typed.repartition("invoice_no")
        .groupBy(*TYPED_COLUMNS, "reject_reason", "raw")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.min("position").alias("position"),
            F.sum(F.col("raw_customer_missing").cast("int")).alias("raw_customer_missing"),
        )
    )
    kept = F.col("reject_reason").isNull()
    by_invoice = Window.partitionBy("invoice_no")
    known = F.when(kept, F.col("customer_id"))
    lo, hi = F.min(known).over(by_invoice), F.max(known).over(by_invoice)
    fill = F.col("customer_id").isNull() & kept & lo.isNotNull() & (lo == hi)
    invoice = F.col("invoice_no")
    files_array = F.array(*[F.lit(f) for f in files])
    return grouped.select(
        "reject_reason",
        "raw",
        "n",
        "raw_customer_missing",
        F.element_at(files_array, F.shiftright("position", LINE_BITS).cast("int") + 1).alias("_source_file"),
        F.col("position").bitwiseAND(F.lit((1 << LINE_BITS) - 1)).alias("_source_line"),
        "invoice_no",
        "stock_code",
        "description",
        "quantity",
        "invoice_date",
        "unit_price",
        "country",
        F.when(fill, lo).otherwise(F.col("customer_id")).alias("customer_id"),
        fill.alias("is_customer_imputed"),
        F.when(invoice.startswith("C"), "cancellation")
        .when(invoice.startswith("A"), "adjustment")
        .when(F.col("quantity") > 0, "purchase")
        .otherwise("stock_adjustment")
        .alias("line_kind"),
        (~F.col("stock_code").isin(*non_merchandise)).alias("is_merchandise"),
    )


def _merchandise_purchase() -> Column:
    return F.col("is_merchandise") & (F.col("line_kind") == "purchase")


def price_modes(lines: DataFrame) -> DataFrame:
    """SPEC 4: the mode of the positive prices per stock code over every kept merchandise purchase line;
    max(struct(count, -price)) = the highest count, then the lowest price. One row per code."""
    return (
        lines.where(_merchandise_purchase() & (F.col("unit_price") > 0))
        .groupBy("stock_code", "unit_price")
        .count()
        .groupBy("stock_code")
        .agg(F.max(F.struct("count", (-F.col("unit_price")).alias("neg"))).alias("best"))
        .select("stock_code", (-F.col("best.neg")).alias("mode_price"))
    )


def priced(lines: DataFrame, modes: DataFrame, as_of: dt.date) -> DataFrame:
    """SPEC 4 and 7: effective price and status from the (small, broadcast) modes, the window flag and
    the matching scope (SPEC 5)."""
    zero = _merchandise_purchase() & (F.col("unit_price") == 0)
    in_window = F.col("invoice_date") < F.lit(as_of).cast("timestamp")
    scope = (
        F.col("is_merchandise")
        & F.col("customer_id").isNotNull()
        & in_window
        & ((F.col("line_kind") == "purchase") | ((F.col("line_kind") == "cancellation") & (F.col("quantity") < 0)))
    )
    return (
        lines.join(F.broadcast(modes), "stock_code", "left")
        .withColumn(
            "price_imputation_status",
            F.when(zero & F.col("mode_price").isNotNull(), "imputed")
            .when(zero, "no_reference_price")
            .otherwise("not_applicable"),
        )
        .withColumn(
            "effective_unit_price",
            F.when(zero, F.coalesce("mode_price", F.lit(0.0))).otherwise(F.col("unit_price")),
        )
        .withColumn("is_price_imputed", F.col("price_imputation_status") == "imputed")
        .withColumn("is_in_window", in_window)
        .withColumn("is_in_matching_scope", F.coalesce(scope, F.lit(False)))
        .withColumn("as_of_date", F.lit(as_of))
        .drop("mode_price")
    )


def matched(scope: DataFrame) -> DataFrame:
    """SPEC 5 on the in-scope lines: d = running (cancelled - purchased) units per (customer, stock code)
    in key order; a cancellation's unmatched units are how much it raises max(d), floored at 0. Purchases
    get cancelled_units: the key's matched units allocated first-in, first-out."""
    is_cancel = F.col("line_kind") == "cancellation"
    key = Window.partitionBy("customer_id", "stock_code").orderBy(
        "invoice_date",
        is_cancel.cast("int"),
        "invoice_no",
        F.abs("quantity"),
        "unit_price",
        "_source_file",
        "_source_line",
    )
    upto = key.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    before = key.rowsBetween(Window.unboundedPreceding, -1)
    whole = Window.partitionBy("customer_id", "stock_code")
    units = F.abs("quantity")
    purchased = F.when(~is_cancel, F.col("quantity")).otherwise(0)
    with_balance = scope.withColumn("d", F.sum(F.when(is_cancel, units).otherwise(-units)).over(upto)).withColumn(
        "purchased_before", F.coalesce(F.sum(purchased).over(before), F.lit(0))
    )
    peaks = with_balance.withColumn("peak_now", F.greatest(F.lit(0), F.max("d").over(upto))).withColumn(
        "peak_before", F.greatest(F.lit(0), F.coalesce(F.max("d").over(before), F.lit(0)))
    )
    unmatched = F.when(is_cancel, F.col("peak_now") - F.col("peak_before"))
    with_units = peaks.withColumn("unmatched_units", unmatched.cast("bigint")).withColumn(
        "matched_units", F.when(is_cancel, units - F.col("unmatched_units")).cast("bigint")
    )
    key_matched = F.sum(F.coalesce("matched_units", F.lit(0))).over(whole)
    return with_units.withColumn(
        "cancelled_units",
        F.when(
            ~is_cancel,
            F.least(F.col("quantity"), F.greatest(F.lit(0), key_matched - F.col("purchased_before"))),
        ).cast("bigint"),
    ).drop("d", "purchased_before", "peak_now", "peak_before")


def order_lines(lines: DataFrame, fences: dict[str, tuple[float, float]]) -> DataFrame:
    """fct_order_lines: all kept lines, matching columns on the in-scope ones, outlier caps and flags
    (SPEC 6) and each line's revenue contribution (SPEC 7), in the pipeline's column order."""
    scope = matched(lines.where("is_in_matching_scope"))
    others = (
        lines.where(~F.col("is_in_matching_scope"))
        .withColumn("unmatched_units", F.lit(None).cast("bigint"))
        .withColumn("matched_units", F.lit(None).cast("bigint"))
        .withColumn("cancelled_units", F.lit(None).cast("bigint"))
    )
    (q_lo, q_hi), (p_lo, p_hi) = fences["quantity"], fences["effective_unit_price"]
    merch_purchase = _merchandise_purchase()
    quantity = F.col("quantity").cast("double")
    price = F.col("effective_unit_price")
    q_out = F.coalesce(merch_purchase & ((quantity < q_lo) | (quantity > q_hi)), F.lit(False))
    p_out = F.coalesce(merch_purchase & ((price < p_lo) | (price > p_hi)), F.lit(False))
    q_capped = F.when(merch_purchase, F.least(F.greatest(quantity, F.lit(q_lo)), F.lit(q_hi))).otherwise(quantity)
    p_capped = F.when(merch_purchase, F.least(F.greatest(price, F.lit(p_lo)), F.lit(p_hi))).otherwise(price)
    in_scope, kind = F.col("is_in_matching_scope"), F.col("line_kind")
    cancel_value = -F.col("matched_units") * F.col("unit_price")
    match_status = (
        F.when(F.col("matched_units").isNull(), None)
        .when(F.col("unmatched_units") == 0, "full")
        .when(F.col("matched_units") == 0, "none")
        .otherwise("partial")
    )
    return (
        scope.unionByName(others)
        .withColumn("quantity_capped", q_capped)
        .withColumn("unit_price_capped", p_capped)
        .select(
            line_id(F.col("_source_file"), F.col("_source_line")).alias("line_id"),
            "invoice_no",
            "stock_code",
            "customer_id",
            "description",
            "country",
            "line_kind",
            "price_imputation_status",
            match_status.alias("match_status"),
            "quantity",
            "unit_price",
            "effective_unit_price",
            "quantity_capped",
            "unit_price_capped",
            "matched_units",
            "unmatched_units",
            "cancelled_units",
            F.when(in_scope & (kind == "purchase"), F.col("quantity"))
            .when(in_scope & (kind == "cancellation"), -F.col("matched_units"))
            .otherwise(F.lit(0).cast("bigint"))
            .alias("net_quantity"),
            F.when(merch_purchase, F.col("quantity") * price).otherwise(0).cast(MONEY).alias("gross_revenue"),
            F.when(in_scope & (kind == "purchase"), F.col("quantity") * price)
            .when(in_scope & (kind == "cancellation"), cancel_value)
            .otherwise(0)
            .cast(MONEY)
            .alias("net_revenue"),
            F.when(in_scope & (kind == "purchase"), F.col("quantity_capped") * F.col("unit_price_capped"))
            .when(in_scope & (kind == "cancellation"), cancel_value)
            .otherwise(0)
            .cast(MONEY)
            .alias("net_revenue_capped"),
            "is_merchandise",
            merch_purchase.alias("is_merchandise_purchase"),
            "is_customer_imputed",
            "is_price_imputed",
            q_out.alias("is_quantity_outlier"),
            p_out.alias("is_unit_price_outlier"),
            (q_out | p_out).alias("is_outlier"),
            "is_in_window",
            "is_in_matching_scope",
            "invoice_date",
            "as_of_date",
            "_source_file",
            "_source_line",
        )
    )


def segment_of(r: Column, f: Column, m: Column) -> Column:
    """SPEC 8: the first rule in priority order whose ranges hold, else Others."""
    segment: Column | None = None
    for name, (r0, r1), (f0, f1), (m0, m1) in segment_rules():
        cond = r.between(r0, r1) & f.between(f0, f1) & m.between(m0, m1)
        segment = F.when(cond, name) if segment is None else segment.when(cond, name)
    assert segment is not None
    return segment.otherwise(OTHERS)


def customer_rfm(lines: DataFrame, as_of: dt.date) -> DataFrame:
    """SPEC 7-8: one row per customer with a merchandise purchase in the window. Per-invoice sums first
    (an in-scope invoice is all purchases or all cancellations), so distinct invoices are plain counts."""
    scoped = lines.where("is_in_matching_scope")
    purchase = F.col("line_kind") == "purchase"
    per_invoice = scoped.groupBy("customer_id", "invoice_no").agg(
        F.max(purchase).alias("is_purchase"),
        F.min("invoice_date").alias("first_at"),
        F.max("invoice_date").alias("last_at"),
        F.sum(F.when(purchase, F.col("quantity"))).alias("purchased_units"),
        F.sum("net_revenue").alias("net_revenue"),
        F.sum(F.coalesce("matched_units", F.lit(0))).alias("cancelled_units"),
    )
    is_purchase = F.col("is_purchase")
    per_customer = per_invoice.groupBy("customer_id").agg(
        F.count_if(is_purchase).cast("int").alias("frequency"),
        F.count_if(~is_purchase).cast("int").alias("cancellation_invoices"),
        F.min(F.when(is_purchase, F.col("first_at"))).alias("first_purchase_at"),
        F.max(F.when(is_purchase, F.col("last_at"))).alias("last_purchase_at"),
        F.sum("purchased_units").alias("purchased_units"),
        F.round(F.sum("net_revenue"), 2).cast("decimal(18,2)").alias("monetary"),
        F.sum("cancelled_units").alias("cancelled_units"),
    )
    products = (
        scoped.where(purchase)
        .select("customer_id", "stock_code")
        .distinct()
        .groupBy("customer_id")
        .agg(F.count(F.lit(1)).cast("int").alias("distinct_products"))
    )
    countries = (
        scoped.where(purchase & F.col("country").isNotNull())
        .groupBy("customer_id", "country")
        .count()
        .withColumn("rank", F.row_number().over(Window.partitionBy("customer_id").orderBy(F.desc("count"), "country")))
        .where("rank = 1")
        .select("customer_id", F.col("country").alias("main_country"))
    )
    as_of_lit = F.lit(as_of)
    rfm = (
        per_customer.where(F.col("frequency") > 0)
        .join(products, "customer_id", "left")
        .join(countries, "customer_id", "left")
        .select(
            "customer_id",
            "main_country",
            F.datediff(as_of_lit, F.to_date("last_purchase_at")).alias("recency_days"),
            "frequency",
            "monetary",
            F.datediff(as_of_lit, F.to_date("first_purchase_at")).alias("tenure_days"),
            F.round(F.col("monetary") / F.col("frequency"), 2).cast("decimal(18,2)").alias("avg_order_value"),
            "distinct_products",
            "purchased_units",
            "cancelled_units",
            F.round(F.col("cancellation_invoices") / (F.col("frequency") + F.col("cancellation_invoices")), 4).alias(
                "cancellation_rate"
            ),
            as_of_lit.alias("as_of_date"),
            "first_purchase_at",
            "last_purchase_at",
        )
    )
    n = F.count(F.lit(1)).over(Window.partitionBy())

    def score(order: Column) -> Column:
        return (F.lit(1) + F.floor(F.lit(5) * (F.rank().over(Window.orderBy(order)) - 1) / n)).cast("int")

    scored = rfm.select(
        "*",
        score(F.col("recency_days").desc()).alias("r_score"),
        score(F.col("frequency").asc()).alias("f_score"),
        score(F.col("monetary").asc()).alias("m_score"),
    )
    r, f, m = F.col("r_score"), F.col("f_score"), F.col("m_score")
    return scored.select(
        "customer_id",
        F.concat(r.cast("string"), f.cast("string"), m.cast("string")).alias("rfm_cell"),
        segment_of(r, f, m).alias("rfm_segment"),
        *CUSTOMER_COLUMNS,
    )


def fct_orders(lines: DataFrame) -> DataFrame:
    """One row per invoice; its kind is the kind of its lines (C, then A, then any purchase line)."""
    kind = F.col("line_kind")
    return lines.groupBy("invoice_no").agg(
        F.max("customer_id").alias("customer_id"),
        F.when(F.max(kind == "cancellation"), "cancellation")
        .when(F.max(kind == "adjustment"), "adjustment")
        .when(F.max(kind == "purchase"), "purchase")
        .otherwise("stock_adjustment")
        .alias("invoice_kind"),
        F.min("country").alias("country"),
        F.count(F.lit(1)).alias("line_count"),
        F.size(F.collect_set("stock_code")).alias("distinct_products"),
        F.sum("quantity").alias("total_quantity"),
        F.sum("net_quantity").alias("net_quantity"),
        F.sum("gross_revenue").alias("gross_revenue"),
        F.sum("net_revenue").alias("net_revenue"),
        F.max("is_customer_imputed").alias("has_imputed_customer"),
        F.max("is_price_imputed").alias("has_imputed_price"),
        F.max("is_outlier").alias("has_outlier_line"),
        F.max("is_in_window").alias("is_in_window"),
        F.min("invoice_date").alias("invoice_date"),
    )


def product_performance(lines: DataFrame, customers: DataFrame) -> DataFrame:
    """One row per merchandise stock code with a purchase line in the window: units, revenue, matched
    cancellations, orders, customers, its commonest description and its three top RFM segments."""
    window_lines = lines.where(F.col("is_merchandise") & F.col("is_in_window"))
    purchase = F.col("line_kind") == "purchase"
    in_scope = F.col("is_in_matching_scope")
    sums = (
        window_lines.groupBy("stock_code")
        .agg(
            F.sum(F.when(purchase, F.col("quantity")).otherwise(0)).alias("purchased_units"),
            F.sum(F.when(purchase, F.col("gross_revenue")).otherwise(0)).alias("gross_revenue"),
            F.sum("net_revenue").alias("net_revenue"),
            F.sum(F.when(in_scope & purchase, F.col("quantity")).otherwise(0)).alias("customer_purchased_units"),
            F.sum(F.when(in_scope & (F.col("line_kind") == "cancellation"), F.col("matched_units")).otherwise(0)).alias(
                "cancelled_units"
            ),
            F.count_if(purchase).alias("purchase_lines"),
        )
        .where("purchase_lines > 0")
    )
    orders = window_lines.where(purchase).select("stock_code", "invoice_no").distinct().groupBy("stock_code").count()
    buyers = (
        window_lines.where(F.col("customer_id").isNotNull())
        .select("stock_code", "customer_id")
        .distinct()
        .groupBy("stock_code")
        .count()
    )
    descriptions = (
        window_lines.where(F.col("description").isNotNull())
        .groupBy("stock_code", "description")
        .count()
        .withColumn(
            "rank", F.row_number().over(Window.partitionBy("stock_code").orderBy(F.desc("count"), "description"))
        )
        .where("rank = 1")
    )
    segment_revenue = (
        window_lines.where(in_scope)
        .join(customers.select("customer_id", "rfm_segment"), "customer_id")
        .groupBy("stock_code", "rfm_segment")
        .agg(F.sum("net_revenue").alias("net_revenue"))
        .withColumn(
            "rank",
            F.row_number().over(Window.partitionBy("stock_code").orderBy(F.desc("net_revenue"), "rfm_segment")),
        )
        .where("rank <= 3")
        .groupBy("stock_code")
        .agg(
            F.concat_ws(
                ", ",
                F.transform(F.array_sort(F.collect_list(F.struct("rank", "rfm_segment"))), lambda s: s["rfm_segment"]),
            ).alias("top_rfm_segments")
        )
    )
    products = (
        sums.join(orders.withColumnRenamed("count", "orders"), "stock_code", "left")
        .join(buyers.withColumnRenamed("count", "customers"), "stock_code", "left")
        .join(descriptions.select("stock_code", "description"), "stock_code", "left")
        .join(segment_revenue, "stock_code", "left")
    )
    return products.select(
        "stock_code",
        "description",
        "top_rfm_segments",
        "purchased_units",
        "cancelled_units",
        "gross_revenue",
        "net_revenue",
        F.round(F.col("cancelled_units") / F.nullif(F.col("customer_purchased_units"), F.lit(0)), 4).alias(
            "cancellation_rate"
        ),
        F.coalesce("orders", F.lit(0)).alias("orders"),
        F.coalesce("customers", F.lit(0)).alias("customers"),
        F.row_number().over(Window.orderBy(F.desc("net_revenue"), "stock_code")).alias("revenue_rank"),
    )


def cancellation_checks(lines: DataFrame) -> DataFrame:
    """SPEC 5's assumption checks, on the keys (customer, stock code, |quantity|) that have a cancellation:
    one-to-one greedy line matching (exact counterpart) and whether a cancellation invoice's lines all find
    their counterparts in one single earlier-or-same-time purchase invoice (independence)."""
    scoped = lines.where("is_in_matching_scope").select(
        "invoice_no",
        "customer_id",
        "stock_code",
        "line_kind",
        F.abs("quantity").alias("abs_quantity"),
        "unit_price",
        "invoice_date",
        "match_status",
        "matched_units",
        "_source_file",
        "_source_line",
    )
    is_cancel = F.col("line_kind") == "cancellation"
    keys = scoped.where(is_cancel).select("customer_id", "stock_code", "abs_quantity").distinct()
    keyed = scoped.join(keys, ["customer_id", "stock_code", "abs_quantity"], "left_semi")
    order = Window.partitionBy("customer_id", "stock_code", "abs_quantity").orderBy(
        "invoice_date", is_cancel.cast("int"), "invoice_no", "unit_price", "_source_file", "_source_line"
    )
    balance = F.sum(F.when(is_cancel, 1).otherwise(-1)).over(
        order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    with_balance = keyed.withColumn("b", balance)
    peak_now = F.greatest(F.lit(0), F.max("b").over(order.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
    peak_before = F.greatest(
        F.lit(0), F.coalesce(F.max("b").over(order.rowsBetween(Window.unboundedPreceding, -1)), F.lit(0))
    )
    cancels = (
        with_balance.withColumn("has_exact_counterpart", (peak_now - peak_before) == 0)
        .where(is_cancel)
        .withColumn("line_id", line_id(F.col("_source_file"), F.col("_source_line")))
        .withColumn("invoice_line_count", F.count(F.lit(1)).over(Window.partitionBy("invoice_no")))
    )
    purchases = keyed.where(~is_cancel).select(
        F.col("invoice_no").alias("purchase_invoice_no"),
        "customer_id",
        "stock_code",
        "abs_quantity",
        F.col("invoice_date").alias("purchase_date"),
    )
    independent = (
        cancels.join(purchases, ["customer_id", "stock_code", "abs_quantity"])
        .where(F.col("invoice_date") >= F.col("purchase_date"))
        .groupBy("invoice_no", "purchase_invoice_no")
        .agg(F.max("invoice_line_count").alias("lines"), F.count_distinct("line_id").alias("covered"))
        .where("covered = lines")
        .select("invoice_no")
        .distinct()
        .withColumn("is_independent", F.lit(True))
    )
    checked = cancels.join(independent, "invoice_no", "left").withColumn(
        "is_independent", F.coalesce("is_independent", F.lit(False))
    )
    line_checks = checked.agg(
        F.count_if(F.col("match_status") == "full").alias("full"),
        F.count_if(F.col("match_status") == "partial").alias("partial"),
        F.count_if(F.col("match_status") == "none").alias("none"),
        F.count(F.lit(1)).alias("lines"),
        F.sum("matched_units").alias("matched_units"),
        F.sum("abs_quantity").alias("cancelled_units"),
        F.count_if("has_exact_counterpart").alias("exact"),
        F.count_distinct(F.when(F.col("is_independent"), F.col("invoice_no"))).alias("independent"),
        F.count_distinct("invoice_no").alias("invoices"),
    )
    invoices = (
        lines.where("is_in_matching_scope")
        .groupBy("invoice_no")
        .agg(F.max(F.col("line_kind") == "cancellation").alias("cancelled"))
        .agg(F.count_if("cancelled").alias("cancelled"), F.count(F.lit(1)).alias("invoices"))
    )
    pairs = (
        ("cancellation_lines_fully_matched", "cancellation lines", "full", "lines"),
        ("cancellation_lines_partially_matched", "cancellation lines", "partial", "lines"),
        ("cancellation_lines_unmatched", "cancellation lines", "none", "lines"),
        ("cancelled_units_matched", "units", "matched_units", "cancelled_units"),
        ("exact_counterpart", "cancellation lines", "exact", "lines"),
        ("independence", "cancellation invoices", "independent", "invoices"),
    )
    combined = line_checks.crossJoin(invoices.withColumnRenamed("invoices", "scoped_invoices"))
    checks = [
        F.struct(
            F.lit(name).alias("check_name"),
            F.lit(unit).alias("unit"),
            F.coalesce(F.col(hit).cast("bigint"), F.lit(0).cast("bigint")).alias("matching_count"),
            F.coalesce(F.col(total).cast("bigint"), F.lit(0).cast("bigint")).alias("total_count"),
        )
        for name, unit, hit, total in (*pairs, ("cancelled_invoice_share", "invoices", "cancelled", "scoped_invoices"))
    ]
    return combined.select(F.inline(F.array(*checks))).withColumn(
        "matching_pct",
        F.round(F.lit(100) * F.col("matching_count") / F.nullif(F.col("total_count"), F.lit(0)), 2),
    )


def data_quality_summary(
    spark: SparkSession, stats: dict[str, Any], hist: list[Any], fences: dict[str, dict[str, float]], lines: DataFrame
) -> DataFrame:
    """The EDA sections of marts.data_quality_summary from the figures already collected, plus one small
    aggregate of the matched cancellation lines. Shares are computed by Spark, as in the model."""
    rows: list[tuple[str, str, int | None, int | None, float | None]] = []  # section, metric, count, base, value
    raw_rows = stats["raw_rows"]
    rows += [("raw_missing", column, count, raw_rows, None) for column, count in stats["raw_missing"].items()]
    fates = {"kept": stats["kept"], "duplicate": stats["duplicates"], "rejected": stats["rejected"]}
    rows += [("row_fate", fate, count, raw_rows, None) for fate, count in fates.items() if count]
    reasons = stats["rejected_by_reason"]
    rows += [("reject_reason", reason, count, raw_rows, None) for reason, count in reasons.items() if count]
    kept = stats["kept"]
    rows += [("line_kind", kind, count, kept, None) for kind, count in stats["line_kinds"].items()]
    rows += [
        ("customer_imputation", "imputed_from_invoice", stats["customer_imputed_lines"], kept, None),
        ("customer_imputation", "still_missing", stats["customer_still_missing_lines"], kept, None),
    ]
    statuses = {"imputed": stats["price_imputed_lines"], "no_reference_price": stats["no_reference_price_lines"]}
    zero_lines = sum(statuses.values())
    rows += [("price_imputation", status, count, zero_lines, None) for status, count in statuses.items() if count]
    outliers = stats["outlier_counts"]
    rows += [
        ("outliers", metric, outliers[metric], outliers["purchase_lines"], None)
        for metric in ("quantity_outlier_lines", "unit_price_outlier_lines", "outlier_lines")
    ]
    rows += [
        ("outlier_fences", f"{measure}_{fence}", None, None, value)
        for measure, values in fences.items()
        for fence, value in values.items()
    ]
    frame = spark.createDataFrame(
        rows, "section string, metric string, row_count bigint, base bigint, metric_value double"
    )
    matching = (
        lines.where(F.col("is_in_matching_scope") & (F.col("line_kind") == "cancellation"))
        .groupBy("match_status")
        .agg(F.count(F.lit(1)).alias("row_count"), F.sum("matched_units").cast("double").alias("metric_value"))
        .select(
            F.lit("cancellation_matching").alias("section"),
            F.col("match_status").alias("metric"),
            "row_count",
            F.sum("row_count").over(Window.partitionBy()).alias("base"),
            "metric_value",
        )
    )
    return frame.unionByName(matching).select(
        "section",
        "metric",
        "row_count",
        F.round(F.col("row_count").cast("double") / F.nullif(F.col("base"), F.lit(0)), 6).alias("share"),
        "metric_value",
    )


def segment_actions(spark: SparkSession) -> DataFrame:
    with SEGMENT_ACTIONS.open(newline="") as handle:
        rows = [(r["segment_kind"], r["segment"], r["recommended_action"]) for r in csv.DictReader(handle)]
    return spark.createDataFrame(rows, "segment_kind string, segment string, recommended_action string")


def dim_customers(rfm: DataFrame, clusters: DataFrame, actions: DataFrame) -> DataFrame:
    """RFM customers with their cluster ('Unclustered' outside the clustered population) and actions."""
    has_clusters = clusters.limit(1).count() > 0
    name = F.coalesce(F.col("cluster_name"), F.lit("Unclustered") if has_clusters else F.lit(None).cast("string"))
    rfm_actions = actions.where("segment_kind = 'rfm_segment'").select(
        F.col("segment").alias("rfm_segment"), F.col("recommended_action").alias("rfm_recommended_action")
    )
    cluster_actions = actions.where("segment_kind = 'cluster'").select(
        F.col("segment").alias("cluster_base"), F.col("recommended_action").alias("cluster_recommended_action")
    )
    joined = (
        rfm.join(clusters, "customer_id", "left")
        .withColumn("cluster_name", name)
        .withColumn("cluster_base", F.regexp_replace("cluster_name", " [0-9]+$", ""))
        .join(F.broadcast(rfm_actions), "rfm_segment", "left")
        .join(F.broadcast(cluster_actions), "cluster_base", "left")
    )
    return joined.select(
        "customer_id",
        "cluster_id",
        "cluster_run_id",
        "rfm_cell",
        "rfm_segment",
        "cluster_name",
        "cluster_algorithm",
        "rfm_recommended_action",
        "cluster_recommended_action",
        *CUSTOMER_COLUMNS,
    )


def _segments_by_kind(customers: DataFrame, *columns: str) -> DataFrame:
    rfm = customers.select(
        F.lit("rfm_segment").alias("segment_kind"),
        F.col("rfm_segment").alias("segment"),
        F.lit(None).cast("int").alias("cluster_id"),
        *columns,
    )
    clustered = customers.where(F.col("cluster_name").isNotNull()).select(
        F.lit("cluster").alias("segment_kind"), F.col("cluster_name").alias("segment"), "cluster_id", *columns
    )
    return rfm.unionByName(clustered)


def segment_summary(customers: DataFrame, actions: DataFrame) -> DataFrame:
    """One row per RFM segment and per cluster: sizes, revenue, shares, averages, the action."""
    columns = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score")
    by_kind = Window.partitionBy("segment_kind")
    aggregated = (
        _segments_by_kind(customers, *columns)
        .groupBy("segment_kind", "segment")
        .agg(
            F.min("cluster_id").alias("cluster_id"),
            F.count(F.lit(1)).alias("customers"),
            F.sum("monetary").alias("revenue"),
            F.round(F.avg("recency_days"), 2).alias("avg_recency_days"),
            F.round(F.avg("frequency"), 2).alias("avg_frequency"),
            F.round(F.avg("monetary"), 2).cast("decimal(18,2)").alias("avg_monetary"),
            F.round(F.avg("r_score"), 2).alias("avg_r_score"),
            F.round(F.avg("f_score"), 2).alias("avg_f_score"),
            F.round(F.avg("m_score"), 2).alias("avg_m_score"),
        )
    )
    renamed = actions.select(
        F.col("segment_kind").alias("action_kind"), F.col("segment").alias("action_segment"), "recommended_action"
    )
    with_action = aggregated.join(
        F.broadcast(renamed),
        (F.col("segment_kind") == F.col("action_kind"))
        & (F.regexp_replace("segment", " [0-9]+$", "") == F.col("action_segment")),
        "left",
    )
    return with_action.select(
        "segment_kind",
        "segment",
        "cluster_id",
        "recommended_action",
        "customers",
        F.round(F.col("customers") / F.sum("customers").over(by_kind), 4).alias("customer_share"),
        "revenue",
        F.round(F.col("revenue") / F.nullif(F.sum("revenue").over(by_kind), F.lit(0)), 4)
        .cast("double")
        .alias("revenue_share"),
        "avg_recency_days",
        "avg_frequency",
        "avg_monetary",
        "avg_r_score",
        "avg_f_score",
        "avg_m_score",
    )


def segment_by_country(customers: DataFrame) -> DataFrame:
    """Customers and revenue of each RFM segment and cluster by main country."""
    country = F.coalesce("main_country", F.lit("Unknown"))
    aggregated = (
        _segments_by_kind(customers, "main_country", "monetary")
        .groupBy("segment_kind", "segment", country.alias("country"))
        .agg(F.count(F.lit(1)).alias("customers"), F.sum("monetary").alias("revenue"))
    )
    return aggregated.withColumn(
        "share_of_segment_customers",
        F.round(F.col("customers") / F.sum("customers").over(Window.partitionBy("segment_kind", "segment")), 4),
    )


def cluster(rfm: DataFrame, k: int, seed: int, run_id: str) -> tuple[DataFrame, dict[str, DataFrame], dict[str, Any]]:
    """SPEC 9: monetary > 0, log1p features, standardised, KMeans. Like `segmentation run`, it sweeps
    k = 2..10 (cost and silhouette for each, fits side by side as the cores allow) and keeps the sweep's
    fit at `k`; ids by centroid monetary and names come from the project's pure helpers (train, naming).
    Returns the assignments (customer_id, cluster_id, cluster_name) and the ml tables' frames."""
    from segmentation.clustering.train import assign

    spark = rfm.sparkSession
    population = rfm.where(F.col("monetary") > 0).select(
        "customer_id",
        F.log1p("recency_days").alias("lr"),
        F.log1p("frequency").alias("lf"),
        F.log1p(F.col("monetary").cast("double")).alias("lm"),
    )
    assembled = VectorAssembler(inputCols=["lr", "lf", "lm"], outputCol="raw_features").transform(population)
    scaler = StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True).fit(assembled)
    scaled = scaler.transform(assembled).select("customer_id", "features").persist(StorageLevel.MEMORY_AND_DISK)
    started = time.perf_counter()
    population_size = scaled.count()

    def fit(kk: int) -> tuple[KMeansModel, float, float | None]:
        model = KMeans(
            k=kk,
            seed=seed,
            maxIter=DEFAULT_MAX_ITER,
            tol=DEFAULT_TOL,
            featuresCol="features",
            predictionCol="raw_cluster",
        ).fit(scaled)
        try:
            silhouette = ClusteringEvaluator(featuresCol="features", predictionCol="raw_cluster").evaluate(
                model.transform(scaled)
            )
        except Exception:  # noqa: BLE001 - one predicted cluster: the silhouette is undefined
            silhouette = None
        return model, float(model.summary.trainingCost), silhouette

    ks = sweep_ks(population_size)
    with ThreadPoolExecutor(max_workers=sweep_concurrency(scaled, len(ks))) as pool:
        fits = dict(zip(ks, pool.map(fit, ks), strict=True))
    model, cost, silhouette = fits[k] if k in fits else fit(k)
    sweep = {
        "seconds": round(time.perf_counter() - started, 3),
        "points": [{"k": kk, "cost": c, "silhouette": s} for kk, (_, c, s) in sorted(fits.items())],
    }
    profiles = profiles_from_centers([[float(x) for x in c] for c in model.clusterCenters()], scaler)
    names = name_clusters(profiles)
    assigned = (
        assign(model.transform(scaled), profiles, names).select("customer_id", "cluster_id", "cluster_name").persist()
    )
    sizes = dict(assigned.groupBy("cluster_id").count().collect())
    scaled.unpersist()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    tables = {
        "customer_clusters": assigned.select(
            F.lit(run_id).alias("run_id"),
            "customer_id",
            "cluster_id",
            "cluster_name",
            F.lit("kmeans").alias("algorithm"),
            F.lit(k).alias("k"),
            F.lit(now).alias("assigned_at"),
        ),
        "cluster_centroids": spark.createDataFrame(
            centroid_rows(run_id, profiles, names, sizes),
            "run_id string, cluster_id int, cluster_name string, customers bigint, recency_days double, "
            "frequency double, monetary double, scaled_recency double, scaled_frequency double, "
            "scaled_monetary double",
        ),
        "k_sweep": spark.createDataFrame(
            [(run_id, "kmeans", kk, c, s, kk == k) for kk, (_, c, s) in sorted(fits.items())],
            "run_id string, algorithm string, k int, cost double, silhouette double, is_chosen boolean",
        ),
        "model_runs": spark.createDataFrame(
            [
                (
                    run_id,
                    now,
                    None,
                    "kmeans",
                    k,
                    "fixed",
                    seed,
                    silhouette,
                    cost,
                    population_size,
                    json.dumps({"k": k, "seed": seed, "max_iter": DEFAULT_MAX_ITER, "tol": DEFAULT_TOL, "sweep_k": ks}),
                    None,
                )
            ],
            "run_id string, run_at timestamp, as_of_date date, algorithm string, k int, k_rule string, seed int, "
            "silhouette double, cost double, customers bigint, parameters string, model_path string",
        ),
    }
    sweep["sizes"] = [int(sizes.get(i, 0)) for i in range(k)]
    return assigned, tables, sweep


def _save(frame: DataFrame, name: str) -> None:
    frame.write.mode("overwrite").format("parquet").saveAsTable(name)


def run_floor(
    spark: SparkSession,
    paths: list[str],
    *,
    k: int = 4,
    seed: int = 42,
    as_of_date: str | None = None,
    iqr_k: float = 1.5,
    encoding: str = "utf-8",
    prefix: str = FLOOR_PREFIX,
    non_merchandise: tuple[str, ...] | None = None,
) -> FloorResult:
    """The whole job: the input files in, every table of bench/tables.OUTPUT_TABLES out, in `prefix`ed
    schemas of this session's warehouse."""
    lap = Laps()

    def name(logical: str) -> str:
        return table_name(logical, prefix)

    for schema in sorted({schema for schema, _ in OUTPUT_TABLES.values()}):
        spark.sql(f"create database if not exists {prefix}{schema}")
    ingested = ingest_files(
        spark, [Path(p) for p in paths], encoding=encoding, replace_all=True, table=name("raw_transactions")
    )
    files = sorted(ingested.rows_per_file)
    lap("ingest")

    codes = non_merchandise if non_merchandise is not None else non_merchandise_codes()
    base = distinct_lines(typed_rows(spark.table(name("raw_transactions")), files), files, codes)
    base = base.persist(StorageLevel.MEMORY_AND_DISK)  # the only pass over the raw rows
    kept = F.col("reject_reason").isNull()
    rejected = ~kept
    kinds = ("purchase", "cancellation", "adjustment", "stock_adjustment")
    figures = base.agg(
        F.sum("n").alias("raw_rows"),
        F.count_if(rejected).alias("rejected"),
        F.sum(F.when(kept, F.col("n") - 1).otherwise(0)).alias("duplicates"),
        F.count_if(kept).alias("kept"),
        F.count_if(kept & F.col("is_customer_imputed")).alias("customer_imputed_lines"),
        F.count_if(kept & F.col("customer_id").isNull()).alias("customer_still_missing_lines"),
        F.max(F.when(kept, F.col("invoice_date"))).alias("max_invoice_at"),
        *[F.count_if(F.col("reject_reason") == r).alias(f"reason_{r}") for r in reject_reasons()],
        *[F.count_if(kept & (F.col("line_kind") == kind)).alias(f"kind_{kind}") for kind in kinds],
        # Missing raw values: kept rows always have the five typed key columns; a rejected row is its own group.
        *[
            F.count_if(rejected & F.col(f"raw.{c}").isNull()).alias(f"missing_{c}")
            for c in ("invoice_no", "stock_code", "quantity", "invoice_date", "unit_price")
        ],
        F.sum(F.when(F.col("description").isNull(), F.col("n")).otherwise(0)).alias("missing_description"),
        F.sum("raw_customer_missing").alias("missing_customer_id"),
        F.sum(F.when(F.col("country").isNull(), F.col("n")).otherwise(0)).alias("missing_country"),
    ).first()
    assert figures is not None
    stats: dict[str, Any] = {
        key: int(figures[key] or 0)
        for key in (
            "raw_rows",
            "rejected",
            "duplicates",
            "kept",
            "customer_imputed_lines",
            "customer_still_missing_lines",
        )
    }
    stats["rejected_by_reason"] = {r: int(figures[f"reason_{r}"]) for r in reject_reasons()}
    stats["line_kinds"] = {kind: int(figures[f"kind_{kind}"]) for kind in kinds if figures[f"kind_{kind}"]}
    stats["raw_missing"] = {c: int(figures[f"missing_{c}"] or 0) for c in TYPED_COLUMNS}
    max_at = figures["max_invoice_at"]
    as_of = dt.date.fromisoformat(as_of_date) if as_of_date else max_at.date() + dt.timedelta(days=1)
    stats["as_of_date"] = as_of.isoformat()

    lines_in = base.where(kept).drop("reject_reason", "raw", "n", "raw_customer_missing")
    modes = price_modes(lines_in).persist(StorageLevel.MEMORY_AND_DISK)  # one row per stock code
    lines = priced(lines_in, modes, as_of)
    # SPEC 4 counts and SPEC 6 from one histogram of merchandise purchase lines: exact percentiles with
    # Spark's interpolation, memory bounded by the distinct values.
    hist = (
        lines.where(_merchandise_purchase())
        .groupBy("quantity", "effective_unit_price", "price_imputation_status", "is_in_window")
        .count()
        .collect()
    )
    stats["price_imputed_lines"] = sum(int(r["count"]) for r in hist if r["price_imputation_status"] == "imputed")
    stats["no_reference_price_lines"] = sum(
        int(r["count"]) for r in hist if r["price_imputation_status"] == "no_reference_price"
    )
    in_window = [r for r in hist if r["is_in_window"]]
    fences: dict[str, dict[str, float]] = {}
    for measure, index in (("quantity", 0), ("effective_unit_price", 1)):
        counts: dict[float, int] = {}
        for r in in_window:
            counts[float(r[index])] = counts.get(float(r[index]), 0) + int(r["count"])
        q1, q3 = (spark_percentile(list(counts.items()), p) for p in (0.25, 0.75))
        fences[measure] = {
            "q1": q1,
            "q3": q3,
            "lower_fence": q1 - iqr_k * (q3 - q1),
            "upper_fence": q3 + iqr_k * (q3 - q1),
        }
    bounds = {m: (f["lower_fence"], f["upper_fence"]) for m, f in fences.items()}
    (q_lo, q_hi), (p_lo, p_hi) = bounds["quantity"], bounds["effective_unit_price"]
    q_out = sum(int(r["count"]) for r in in_window if r[0] < q_lo or r[0] > q_hi)
    p_out = sum(int(r["count"]) for r in in_window if r[1] < p_lo or r[1] > p_hi)
    either = sum(int(r["count"]) for r in in_window if r[0] < q_lo or r[0] > q_hi or r[1] < p_lo or r[1] > p_hi)
    stats["outlier_counts"] = {
        "purchase_lines": sum(int(r["count"]) for r in in_window),
        "quantity_outlier_lines": q_out,
        "unit_price_outlier_lines": p_out,
        "outlier_lines": either,
    }
    stats["quantity_fences"], stats["unit_price_fences"] = (
        list(bounds["quantity"]),
        list(bounds["effective_unit_price"]),
    )
    stats["outlier_lines"] = either
    lap("type_dedup_impute")

    _save(order_lines(lines, bounds), name("fct_order_lines"))
    raw = F.col("raw")
    _save(
        base.where(rejected).select(
            line_id(raw["_source_file"], raw["_source_line"]).alias("line_id"),
            "reject_reason",
            *[raw[c].alias(f"raw_{c}") for c in ("invoice_no", "stock_code")],
            F.col("description").alias("raw_description"),
            *[raw[c].alias(f"raw_{c}") for c in ("quantity", "invoice_date", "unit_price", "customer_id")],
            F.col("country").alias("raw_country"),
            raw["_source_file"].alias("_source_file"),
            raw["_source_line"].alias("_source_line"),
            raw["_loaded_at"].alias("_loaded_at"),
        ),
        name("rejected_lines"),
    )
    base.unpersist()
    modes.unpersist()
    lap("match_write_lines")

    order_table = spark.table(name("fct_order_lines"))
    _save(customer_rfm(order_table, as_of), name("customer_rfm"))
    rfm = spark.table(name("customer_rfm"))
    match = (
        order_table.where(F.col("is_in_matching_scope") & (F.col("line_kind") == "cancellation"))
        .agg(
            F.count(F.lit(1)),
            F.count_if(F.col("match_status") == "full"),
            F.count_if(F.col("match_status") == "none"),
            F.sum("unmatched_units"),
        )
        .first()
    )
    assert match is not None
    lines_c, fully, none = int(match[0] or 0), int(match[1] or 0), int(match[2] or 0)
    stats["cancellation_matching"] = {
        "cancellation_lines": lines_c,
        "fully_matched": fully,
        "partially_matched": lines_c - fully - none,
        "unmatched": none,
        "unmatched_units": int(match[3] or 0),
    }
    lap("customer_rfm")

    run_id = f"floor-{uuid.uuid4().hex[:8]}"
    assigned, ml_tables, sweep = cluster(rfm, k, seed, run_id)
    for logical, frame in ml_tables.items():
        _save(frame, name(logical))
    stats["k_sweep"] = {"seconds": sweep["seconds"], "points": sweep["points"]}
    lap("kmeans")

    actions = segment_actions(spark)
    clusters = spark.table(name("customer_clusters")).select(
        "customer_id",
        "cluster_id",
        "cluster_name",
        F.col("run_id").alias("cluster_run_id"),
        F.col("algorithm").alias("cluster_algorithm"),
    )
    _save(dim_customers(rfm, clusters, actions), name("dim_customers"))
    customers = spark.table(name("dim_customers"))
    _save(segment_summary(customers, actions), name("segment_summary"))
    _save(segment_by_country(customers), name("segment_by_country"))
    _save(fct_orders(order_table), name("fct_orders"))
    _save(product_performance(order_table, rfm), name("product_performance"))
    _save(cancellation_checks(order_table), name("cancellation_assumption_checks"))
    _save(data_quality_summary(spark, stats, hist, fences, order_table), name("data_quality_summary"))
    assigned.unpersist()
    lap("other_marts")
    stats["timings_s"] = lap.seconds

    seg_rows = (
        rfm.groupBy("rfm_segment")
        .agg(
            F.count(F.lit(1)).alias("customers"), F.sum(F.round(F.col("monetary") * 100).cast("bigint")).alias("cents")
        )
        .collect()
    )
    customers_df = customers.select(
        "customer_id",
        "recency_days",
        "frequency",
        F.col("monetary").cast("double").alias("monetary"),
        "r_score",
        "f_score",
        "m_score",
        F.col("rfm_segment").alias("segment"),
        F.col("cluster_id").alias("cluster"),
    )
    return FloorResult(
        customers=sum(int(r["customers"]) for r in seg_rows),
        total_monetary=sum(int(r["cents"]) for r in seg_rows) / 100,
        segment_counts={r["rfm_segment"]: int(r["customers"]) for r in seg_rows},
        cluster_sizes=sweep["sizes"],
        stats=stats,
        customers_df=customers_df,
    )
