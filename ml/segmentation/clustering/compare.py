"""KMeans, BisectingKMeans and GaussianMixture at one k, side by side (`segmentation compare`).

Each algorithm sees the same standardised features (fitted once, cached). Silhouette is comparable across
algorithms (same features, same distance); cost is not: within-cluster SSE for the two k-means variants,
negative log-likelihood for the Gaussian mixture (column cost_measure says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from segmentation import ml_tables
from segmentation.clustering import io
from segmentation.clustering.config import ALGORITHMS, DEFAULT_MAX_ITER, DEFAULT_TOL, FIXED_K_MAX, FIXED_K_MIN
from segmentation.clustering.features import check_population, fit_preprocessing, population, scaled_features
from segmentation.clustering.runner import new_run_id
from segmentation.clustering.train import COST_MEASURES, fit_clustering
from segmentation.config import Settings
from segmentation.errors import SegmentationError


@dataclass
class CompareResult:
    run_id: str
    k: int
    customers: int
    rows: list[tuple[str, float | None, float, str]]  # (algorithm, silhouette, cost, cost_measure)

    def describe(self) -> str:
        lines = [
            f"comparison {self.run_id}: k = {self.k}, {self.customers:,} customers",
            f"  {'algorithm':<18} {'silhouette':>10}  cost",
        ]
        for algorithm, silhouette, cost, measure in self.rows:
            sil = "n/a" if silhouette is None else f"{silhouette:.3f}"
            lines.append(f"  {algorithm:<18} {sil:>10}  {cost:,.2f} ({measure})")
        return "\n".join(lines)


def compare_algorithms(spark: SparkSession, settings: Settings, k: int | None, seed: int) -> CompareResult:
    if k is None:
        latest = io.latest_run(spark)
        if latest is None:
            raise SegmentationError("no k given and ml.model_runs is empty; pass --k or train first")
        k = int(latest["k"])
    if not FIXED_K_MIN <= k <= FIXED_K_MAX:
        raise SegmentationError(f"k must be between {FIXED_K_MIN} and {FIXED_K_MAX}, got {k}")
    pop = population(io.read_customer_rfm(spark))
    stats = check_population(pop)
    if stats.customers < k:
        raise SegmentationError(f"only {stats.customers} customer(s) with monetary > 0, fewer than k = {k}")

    scaled = scaled_features(fit_preprocessing(pop), pop)
    try:
        fits = [fit_clustering(scaled, a, k, seed, DEFAULT_MAX_ITER, DEFAULT_TOL) for a in ALGORITHMS]
    finally:
        scaled.unpersist()
    now = datetime.now(UTC).replace(microsecond=0)
    run_id = new_run_id(now)
    rows = [(f.algorithm, f.silhouette, f.cost, COST_MEASURES[f.algorithm]) for f in fits]
    ml_tables.ensure_tables(spark)
    ml_tables.append(
        ml_tables.rows_frame(
            spark,
            [(run_id, a, k, sil, cost, measure, stats.customers, now) for a, sil, cost, measure in rows],
            "algorithm_comparison",
        ),
        "algorithm_comparison",
    )
    return CompareResult(run_id=run_id, k=k, customers=stats.customers, rows=rows)
