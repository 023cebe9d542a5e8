"""The Spark floor: the whole SPEC computation hand-written in PySpark, with no dbt.

It is what the pipeline would cost with nothing but the necessary work: one CSV scan, one shuffle
for duplicates and the customer fill-in (both keyed by invoice), one shuffle for cancellation
matching and the customer aggregates (both keyed by customer), small aggregates collected to the
driver, then MLlib KMeans: the same k sweep as the pipeline, keeping its fit at k. Two small caches
(kept lines, per-customer rows) avoid re-parsing.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyspark import StorageLevel
from pyspark.ml.clustering import KMeans, KMeansModel
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from bench.common import (
    ISO_DATE_RE,
    NON_MERCHANDISE_CODES,
    OTHERS,
    PRICE_RE,
    QUANTITY_RE,
    REJECT_REASONS,
    SEGMENT_RULES,
    TYPED_COLUMNS,
    US_DATE_FORMAT_SPARK,
    FloorResult,
    map_columns,
    outlier_summary,
)
from segmentation.clustering.config import DEFAULT_MAX_ITER, DEFAULT_TOL, sweep_ks
from segmentation.clustering.select import sweep_concurrency


def _text(col: Column) -> Column:
    # Spark's trim removes spaces only; the pandas twin strips ' ' too.
    return F.nullif(F.trim(col), F.lit(""))


def read_typed(spark: SparkSession, paths: list[str], encoding: str = "utf-8") -> DataFrame:
    """SPEC 1-2: raw strings -> typed columns plus `reject_reason` (null for typable rows)."""
    raw = (
        spark.read.option("header", True)
        .option("escape", '"')  # RFC 4180 doubled quotes, e.g. "7"" SINGLE"
        .option("encoding", encoding)
        .csv(paths)
    )
    mapping = map_columns(raw.columns)
    c = {name: F.col(f"`{src}`") for name, src in mapping.items()}
    qty_text, date_text = F.trim(c["quantity"]), F.trim(c["invoice_date"])
    price_text = F.trim(c["unit_price"])
    typed = raw.select(
        F.upper(_text(c["invoice_no"])).alias("invoice_no"),
        F.upper(_text(c["stock_code"])).alias("stock_code"),
        _text(c["description"]).alias("description"),
        F.when(
            qty_text.rlike(QUANTITY_RE),
            F.regexp_replace(qty_text, r"\.0+$", "").try_cast("bigint"),
        ).alias("quantity"),
        F.coalesce(
            F.when(date_text.rlike(ISO_DATE_RE), date_text.try_cast("timestamp")),
            F.try_to_timestamp(date_text, F.lit(US_DATE_FORMAT_SPARK)),
        ).alias("invoice_date"),
        F.when(price_text.rlike(PRICE_RE), price_text.cast("double")).alias("unit_price"),
        _text(F.regexp_replace(F.trim(c["customer_id"]), r"\.0+$", "")).alias("customer_id"),
        _text(c["country"]).alias("country"),
    )
    reason = F.when(F.col("invoice_no").isNull(), F.lit(REJECT_REASONS[0]))
    for col_name, label in zip(
        ("stock_code", "quantity", "invoice_date", "unit_price"), REJECT_REASONS[1:], strict=True
    ):
        reason = reason.when(F.col(col_name).isNull(), F.lit(label))
    return typed.withColumn("reject_reason", reason)


def build_base(typed: DataFrame, non_merchandise: tuple[str, ...] = NON_MERCHANDISE_CODES) -> DataFrame:
    """One row per distinct typed line (plus grouped rejected rows, flagged by reject_reason) with
    `n` = how many raw rows it stands for, classification and customer fill-in."""
    # One shuffle by invoice serves both the duplicate grouping (its key contains invoice_no) and
    # the per-invoice customer fill-in window.
    grouped = (
        typed.repartition("invoice_no")
        .groupBy(*TYPED_COLUMNS, "reject_reason")
        .agg(F.count(F.lit(1)).alias("n"))
        .drop("description")
    )
    kept = F.col("reject_reason").isNull()
    by_invoice = Window.partitionBy("invoice_no")
    known = F.when(kept, F.col("customer_id"))
    lo, hi = F.min(known).over(by_invoice), F.max(known).over(by_invoice)
    fill = F.col("customer_id").isNull() & kept & lo.isNotNull() & (lo == hi)
    inv = F.col("invoice_no")
    lines = grouped.select(
        "reject_reason",
        "n",
        "invoice_no",
        "stock_code",
        "quantity",
        "invoice_date",
        "unit_price",
        "country",
        F.when(fill, lo).otherwise(F.col("customer_id")).alias("customer_id"),
        fill.alias("is_customer_imputed"),
        F.when(inv.startswith("C"), "cancellation")
        .when(inv.startswith("A"), "adjustment")
        .when(F.col("quantity") > 0, "purchase")
        .otherwise("stock_adjustment")
        .alias("line_kind"),
        (~F.col("stock_code").isin(*non_merchandise)).alias("is_merchandise"),
    )
    return lines


def price_modes(base: DataFrame) -> DataFrame:
    """SPEC 4: the mode of the positive prices per stock code over every kept merchandise purchase
    line; max(struct(count, -price)) = the highest count, then the lowest price. One row per code."""
    merch_purchase = (
        F.col("reject_reason").isNull() & (F.col("line_kind") == "purchase") & F.col("is_merchandise")
    )
    return (
        base.where(merch_purchase & (F.col("unit_price") > 0))
        .groupBy("stock_code", "unit_price")
        .count()
        .groupBy("stock_code")
        .agg(F.max(F.struct("count", (-F.col("unit_price")).alias("neg"))).alias("best"))
        .select("stock_code", (-F.col("best.neg")).alias("mode_price"))
    )


def add_prices(base: DataFrame, modes: DataFrame) -> DataFrame:
    """`effective_unit_price` and `price_imputation_status` from the (small, broadcast) modes."""
    merch_purchase = (
        F.col("reject_reason").isNull() & (F.col("line_kind") == "purchase") & F.col("is_merchandise")
    )
    zero = merch_purchase & (F.col("unit_price") == 0)
    return (
        base.join(F.broadcast(modes), "stock_code", "left")
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
        .drop("mode_price")
    )


def customer_aggregates(lines: DataFrame, as_of: dt.date) -> DataFrame:
    """SPEC 5 + 7: cancellation matching (running max of cancelled-minus-purchased units per
    customer and stock code) and per-customer sums, for every customer in the matching scope."""
    in_window = (
        F.col("reject_reason").isNull()
        & F.col("is_merchandise")
        & F.col("customer_id").isNotNull()
        & (F.col("invoice_date") < F.lit(as_of).cast("timestamp"))
    )
    is_cancel = (F.col("line_kind") == "cancellation") & (F.col("quantity") < 0)
    scope = (
        lines.where(in_window & ((F.col("line_kind") == "purchase") | is_cancel))
        .select(
            "customer_id",
            "stock_code",
            "invoice_no",
            "invoice_date",
            "quantity",
            "unit_price",
            "effective_unit_price",
            "country",
            is_cancel.alias("is_cancel"),
            F.abs("quantity").alias("units"),
        )
        # By customer only: it satisfies the (customer, stock code) window and the customer groupBy.
        .repartition("customer_id")
    )
    key = Window.partitionBy("customer_id", "stock_code").orderBy(
        "invoice_date", "is_cancel", "invoice_no", "units", "unit_price"
    )
    upto = key.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    before = key.rowsBetween(Window.unboundedPreceding, -1)
    delta = F.when(F.col("is_cancel"), F.col("units")).otherwise(-F.col("units"))
    matched = (
        scope.withColumn("d", F.sum(delta).over(upto))
        .withColumn("run_max", F.greatest(F.max("d").over(upto), F.lit(0)))
        .withColumn("prev_max", F.coalesce(F.greatest(F.max("d").over(before), F.lit(0)), F.lit(0)))
        .withColumn("purchases_so_far", F.sum((~F.col("is_cancel")).cast("int")).over(upto))
        .withColumn("unmatched", F.when(F.col("is_cancel"), F.col("run_max") - F.col("prev_max")))
        .withColumn("matched", F.col("units") - F.col("unmatched"))
        # main country = most purchase lines, a tie to the first alphabetically: a per-(customer,
        # country) count, sorted within the customer partitions already there - no second shuffle.
        .withColumn(
            "country_rank",
            F.when(
                ~F.col("is_cancel"),
                F.struct(
                    (
                        -F.sum((~F.col("is_cancel")).cast("int")).over(
                            Window.partitionBy("customer_id", "country")
                        )
                    ).alias("neg"),
                    "country",
                ),
            ),
        )
    )
    purchase = ~F.col("is_cancel")
    # Stage 1 at invoice grain (an invoice is all purchases or all cancellations here), so that
    # distinct invoices become plain counts in stage 2 - no Expand for several count(distinct).
    per_invoice = matched.groupBy("customer_id", "invoice_no").agg(
        F.max("is_cancel").alias("is_cancel"),
        F.max("invoice_date").alias("last_at"),
        F.min("invoice_date").alias("first_at"),
        F.sum(F.when(purchase, F.col("quantity") * F.col("effective_unit_price"))).alias("revenue"),
        F.sum(F.when(F.col("is_cancel"), F.col("matched") * F.col("unit_price"))).alias("cancelled_value"),
        F.sum(F.when(purchase & (F.col("purchases_so_far") == 1), 1).otherwise(0)).alias("new_products"),
        F.sum(F.col("is_cancel").cast("int")).alias("cancel_lines"),
        F.sum((F.col("is_cancel") & (F.col("unmatched") == 0)).cast("int")).alias("fully"),
        F.sum((F.col("is_cancel") & (F.col("matched") == 0)).cast("int")).alias("unmatched_lines"),
        F.sum(F.coalesce(F.col("unmatched"), F.lit(0))).alias("unmatched_units"),
        F.min("country_rank").alias("country_rank"),
    )
    p = ~F.col("is_cancel")
    per_customer = per_invoice.groupBy("customer_id").agg(
        F.sum(p.cast("int")).alias("frequency"),
        F.sum(F.col("is_cancel").cast("int")).alias("cancellation_invoices"),
        F.max(F.when(p, F.col("last_at"))).alias("last_purchase_at"),
        F.min(F.when(p, F.col("first_at"))).alias("first_purchase_at"),
        F.sum("revenue").alias("revenue"),
        F.sum("cancelled_value").alias("cancelled_value"),
        F.sum("new_products").alias("distinct_products"),
        F.sum("cancel_lines").alias("cancel_lines"),
        F.sum("fully").alias("fully_matched"),
        F.sum("unmatched_lines").alias("unmatched"),
        F.sum("unmatched_units").alias("unmatched_units"),
        F.min("country_rank").alias("country_rank"),
    )
    # main country: most purchase lines, a tie goes to the first alphabetically.
    as_of_lit = F.lit(as_of)
    monetary = F.round(F.coalesce("revenue", F.lit(0.0)) - F.coalesce("cancelled_value", F.lit(0.0)), 2)
    return per_customer.select(
        "customer_id",
        (F.col("frequency") > 0).alias("is_rfm_customer"),
        F.datediff(as_of_lit, F.to_date("last_purchase_at")).alias("recency_days"),
        F.col("frequency").cast("bigint").alias("frequency"),
        monetary.alias("monetary"),
        F.to_date("first_purchase_at").alias("first_purchase_date"),
        F.datediff(as_of_lit, F.to_date("first_purchase_at")).alias("tenure_days"),
        F.round(F.try_divide(monetary, F.col("frequency")), 2).alias("avg_order_value"),
        "distinct_products",
        F.col("country_rank.country").alias("main_country"),
        (F.col("cancellation_invoices") / (F.col("frequency") + F.col("cancellation_invoices"))).alias(
            "cancellation_rate"
        ),
        "cancel_lines",
        "fully_matched",
        "unmatched",
        "unmatched_units",
    )


def score_and_segment(customers: DataFrame) -> DataFrame:
    """SPEC 8: 1 + floor(5 * (rank() - 1) / n) per measure, then the first matching rule."""
    n = F.count(F.lit(1)).over(Window.partitionBy())

    def score(order: Column) -> Column:
        return (F.lit(1) + F.floor(F.lit(5) * (F.rank().over(Window.orderBy(order)) - 1) / n)).cast("int")

    scored = customers.select(
        "*",
        score(F.col("recency_days").desc()).alias("r_score"),
        score(F.col("frequency").asc()).alias("f_score"),
        score(F.col("monetary").asc()).alias("m_score"),
    )
    segment: Column | None = None
    for name, (r0, r1), (f0, f1), (m0, m1) in SEGMENT_RULES:
        cond = (
            F.col("r_score").between(r0, r1)
            & F.col("f_score").between(f0, f1)
            & F.col("m_score").between(m0, m1)
        )
        segment = F.when(cond, name) if segment is None else segment.when(cond, name)
    assert segment is not None
    return scored.withColumn("segment", segment.otherwise(OTHERS))


def cluster(customers: DataFrame, k: int, seed: int) -> tuple[DataFrame, list[int], dict[str, Any]]:
    """SPEC 9: monetary > 0, log1p features, standardised, KMeans; ids by centroid monetary desc.
    Like `segmentation run`, it first sweeps k = 2..10 (cost and silhouette for each, fits side by side
    as the cores allow) and keeps the sweep's fit at `k`: the pipeline does that work on every run, so
    the floor does it too."""
    population = customers.where(F.col("monetary") > 0).select(
        "customer_id",
        F.log1p("recency_days").alias("lr"),
        F.log1p("frequency").alias("lf"),
        F.log1p("monetary").alias("lm"),
    )
    assembled = VectorAssembler(inputCols=["lr", "lf", "lm"], outputCol="raw_features").transform(population)
    scaled = (
        StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True)
        .fit(assembled)
        .transform(assembled)
        .select("customer_id", "features")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    sweep_started = time.perf_counter()
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
    model = fits[k][0] if k in fits else fit(k)[0]
    sweep = {
        "seconds": round(time.perf_counter() - sweep_started, 3),
        "points": [{"k": kk, "cost": cost, "silhouette": sil} for kk, (_, cost, sil) in sorted(fits.items())],
    }
    centers = model.clusterCenters()
    order = sorted(range(k), key=lambda i: -float(centers[i][2]))  # index 2 = scaled log1p(monetary)
    remap = F.create_map(*[x for new, old in enumerate(order) for x in (F.lit(old), F.lit(new))])
    assigned = model.transform(scaled).select("customer_id", remap[F.col("raw_cluster")].alias("cluster"))
    sizes_by_id = dict(assigned.groupBy("cluster").count().collect())
    scaled.unpersist()
    return assigned, [int(sizes_by_id.get(i, 0)) for i in range(k)], sweep


def run_floor(
    spark: SparkSession,
    paths: list[str],
    *,
    k: int = 4,
    seed: int = 42,
    as_of_date: str | None = None,
    iqr_k: float = 1.5,
    out_path: str | None = None,
    encoding: str = "utf-8",
) -> FloorResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        started = now

    # The only CSV scan: everything downstream reads this cache of distinct lines.
    base = build_base(read_typed(spark, paths, encoding)).persist(StorageLevel.MEMORY_AND_DISK)
    kept = F.col("reject_reason").isNull()
    reason_sums = [
        F.sum(F.when(F.col("reject_reason") == r, F.col("n")).otherwise(0)).alias(r) for r in REJECT_REASONS
    ]
    fates = base.agg(
        F.sum("n").alias("raw_rows"),
        F.sum(F.when(~kept, F.col("n")).otherwise(0)).alias("rejected"),
        F.sum(F.when(kept, F.col("n") - 1).otherwise(0)).alias("duplicates"),
        F.sum(kept.cast("int")).alias("kept"),
        F.sum((kept & F.col("is_customer_imputed")).cast("int")).alias("customer_imputed_lines"),
        F.max(F.when(kept, F.col("invoice_date"))).alias("max_invoice_at"),
        *reason_sums,
    ).first()
    assert fates is not None
    stats: dict[str, Any] = {key: int(fates[key] or 0) for key in fates.asDict() if key != "max_invoice_at"}
    stats["rejected_by_reason"] = {r: stats.pop(r) for r in REJECT_REASONS}
    max_at = fates["max_invoice_at"]
    as_of = dt.date.fromisoformat(as_of_date) if as_of_date else max_at.date() + dt.timedelta(days=1)
    stats["as_of_date"] = as_of.isoformat()
    lap("read_type_dedup")

    modes = price_modes(base).persist(StorageLevel.MEMORY_AND_DISK)  # one row per stock code
    lines = add_prices(base, modes)
    # SPEC 4 counts and SPEC 6 from one small histogram of merchandise purchase lines by
    # (quantity, effective price, imputation status, in window): exact percentiles, bounded memory.
    in_window = F.col("invoice_date") < F.lit(as_of).cast("timestamp")
    hist = (
        lines.where(kept & F.col("is_merchandise") & (F.col("line_kind") == "purchase"))
        .groupBy("quantity", "effective_unit_price", "price_imputation_status", in_window.alias("in_window"))
        .count()
        .collect()
    )
    counted = (("imputed", "price_imputed_lines"), ("no_reference_price", "no_reference_price_lines"))
    for status, key in counted:
        stats[key] = sum(int(r["count"]) for r in hist if r["price_imputation_status"] == status)
    stats.update(outlier_summary([(r[0], r[1], r["count"]) for r in hist if r["in_window"]], iqr_k))
    lap("impute_outliers")

    per_customer = customer_aggregates(lines, as_of).persist(StorageLevel.MEMORY_AND_DISK)
    match = per_customer.agg(
        F.sum("cancel_lines"), F.sum("fully_matched"), F.sum("unmatched"), F.sum("unmatched_units")
    ).first()
    assert match is not None
    cancel_lines, fully, unmatched = int(match[0] or 0), int(match[1] or 0), int(match[2] or 0)
    stats["cancellation_matching"] = {
        "cancellation_lines": cancel_lines,
        "fully_matched": fully,
        "partially_matched": cancel_lines - fully - unmatched,
        "unmatched": unmatched,
        "unmatched_units": int(match[3] or 0),
    }
    base.unpersist()
    modes.unpersist()
    rfm = score_and_segment(per_customer.where("is_rfm_customer").drop("is_rfm_customer")).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    seg_rows = (
        rfm.groupBy("segment")
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.sum(F.round(F.col("monetary") * 100).cast("bigint")).alias("cents"),
        )
        .collect()
    )
    per_customer.unpersist()
    lap("match_rfm_segments")

    assigned, sizes, stats["k_sweep"] = cluster(rfm, k, seed)
    result_df = rfm.join(assigned, "customer_id", "left").select(
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "segment",
        "cluster",
    )
    if out_path:
        result_df.write.mode("overwrite").parquet(out_path)
    lap("kmeans")
    stats["timings_s"] = timings
    return FloorResult(
        customers=sum(int(r["customers"]) for r in seg_rows),
        total_monetary=sum(int(r["cents"]) for r in seg_rows) / 100,
        segment_counts={r["segment"]: int(r["customers"]) for r in seg_rows},
        cluster_sizes=sizes,
        stats=stats,
        customers_df=result_df,
    )
