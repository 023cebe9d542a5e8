"""One training run (SPEC 9): validate, build features, sweep k, choose, fit, name, then write.

Nothing is written until every number is computed: a run that fails (bad input, bad k, Spark error while
fitting) leaves the ml tables as they were. Write order: the model folder (new, never overwritten), the
overwritten tables (the assignment, its history across dates, the centroids), then the appended sweep and
run rows - the run row last, so ml.model_runs only ever points at a complete run.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation import ml_tables
from segmentation.clustering import io
from segmentation.clustering.config import ClusteringConfig, sweep_ks
from segmentation.clustering.features import (
    LOG_FEATURES,
    check_population,
    fit_preprocessing,
    population,
    scaled_features,
    with_estimator,
)
from segmentation.clustering.history import write_cluster_history
from segmentation.clustering.naming import name_clusters
from segmentation.clustering.select import choose_k, points_of, sweep
from segmentation.clustering.train import (
    COST_MEASURES,
    ClusterProfile,
    FittedClustering,
    assign,
    centroid_rows,
    clusterer_of,
    fit_clustering,
    profiles_from_centers,
)
from segmentation.config import Settings
from segmentation.errors import SegmentationError

RUN_METADATA_FILE = "segmentation_run.json"  # beside the Spark model files: run id, algorithm, k, names


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass
class TrainResult:
    run_id: str
    algorithm: str
    k: int
    k_rule: str
    seed: int
    silhouette: float | None
    cost: float
    customers: int
    cluster_sizes: dict[int, int]  # cluster_id -> customers
    cluster_names: dict[int, str]  # cluster_id -> name
    model_path: Path
    sweep: list[tuple[int, float, float | None]] = field(default_factory=list)  # (k, cost, silhouette)
    centroids: list[ClusterProfile] = field(default_factory=list)

    def describe(self) -> str:
        sil = "n/a" if self.silhouette is None else f"{self.silhouette:.3f}"
        lines = [
            f"run {self.run_id}: {self.algorithm}, k = {self.k} ({self.k_rule}), seed {self.seed}, "
            f"{self.customers:,} customers, silhouette {sil}, cost {self.cost:,.2f}",
        ]
        for p in self.centroids:
            name, size = self.cluster_names[p.cluster_id], self.cluster_sizes.get(p.cluster_id, 0)
            lines.append(
                f"  {p.cluster_id}  {name:<12} {size:>7,}  recency {p.recency_days:7.1f} d"
                f"  frequency {p.frequency:6.1f}  monetary {p.monetary:10,.2f}"
            )
        lines.append(f"model saved to {self.model_path}")
        return "\n".join(lines)


def _parameters(config: ClusteringConfig, fitted: FittedClustering, ks: list[int]) -> str:
    return json.dumps(
        {
            "algorithm": fitted.algorithm,
            "k": fitted.k,
            "k_rule": config.effective_k_rule,
            "seed": config.seed,
            "max_iter": config.max_iter,
            "tol": config.tol,
            "sweep_k": ks,
            "features": list(LOG_FEATURES),
            "scaler": {"with_mean": True, "with_std": True},
            "population": "monetary > 0",
            "cost_measure": COST_MEASURES[fitted.algorithm],
            "silhouette": "squared euclidean on standardised features",
            "estimator_params": {
                p.name: v
                for p, v in clusterer_of(fitted.model).extractParamMap().items()
                if isinstance(v, int | float | str | bool)
            },
        },
        sort_keys=True,
    )


def train_clusters(spark: SparkSession, settings: Settings, config: ClusteringConfig) -> TrainResult:
    config.validate()
    rule = config.effective_k_rule
    pop = population(io.read_customer_rfm(spark))
    stats = check_population(pop)
    if rule == "fixed" and stats.customers < config.k:
        raise SegmentationError(
            f"only {stats.customers} customer(s) with monetary > 0, fewer than k = {config.k}"
        )
    ks = sweep_ks(stats.customers, config.k_min, config.k_max) if (rule != "fixed" or config.sweep_when_fixed) else []
    if rule != "fixed" and not ks:
        raise SegmentationError(
            f"only {stats.customers} customer(s) with monetary > 0, too few for k >= {config.k_min}"
        )

    prep = fit_preprocessing(pop)
    scaled = scaled_features(prep, pop)
    assigned: DataFrame | None = None
    try:
        scaled.count()
        fits = sweep(scaled, config.algorithm, ks, config.seed, config.max_iter, config.tol)
        points = points_of(fits)
        k = choose_k(rule, points, config.k)
        final = fits.get(k) or fit_clustering(
            scaled, config.algorithm, k, config.seed, config.max_iter, config.tol
        )
        if len(final.centers) < k:
            raise SegmentationError(
                f"{config.algorithm} found only {len(final.centers)} distinct clusters for k = {k}; "
                "use a smaller k"
            )
        pipeline_model = with_estimator(prep, final.model)
        profiles = profiles_from_centers(final.centers, prep.stages[-1])
        names = name_clusters(profiles)

        now = datetime.now(UTC)  # microseconds kept: ml.model_runs "latest" orders by run_at
        run_id = new_run_id(now)
        assigned = (
            assign(final.model.transform(scaled), profiles, names)
            .select(
                F.lit(run_id).alias("run_id"),
                "customer_id",
                "cluster_id",
                "cluster_name",
                F.lit(config.algorithm).alias("algorithm"),
                F.lit(k).alias("k"),
                F.lit(now).alias("assigned_at"),
            )
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        sizes = {
            r["cluster_id"]: int(r["n"])
            for r in assigned.groupBy("cluster_id").agg(F.count("*").alias("n")).collect()
        }

        centroids = centroid_rows(run_id, profiles, names, sizes)
        sweep_rows = [(run_id, config.algorithm, p.k, p.cost, p.silhouette, p.k == k) for p in points]
        if k not in fits:
            sweep_rows.append((run_id, config.algorithm, k, final.cost, final.silhouette, True))
        model_path = (settings.models_dir / run_id).resolve()
        run_row = [
            (
                run_id,
                now,
                io.run_as_of_date(spark),
                config.algorithm,
                k,
                rule,
                config.seed,
                final.silhouette,
                final.cost,
                stats.customers,
                _parameters(config, final, ks),
                str(model_path),
            )
        ]

        # --- everything is computed; write ---
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        pipeline_model.save(str(model_path))
        (model_path / RUN_METADATA_FILE).write_text(
            json.dumps(
                {
                    "run_id": run_id,
                    "algorithm": config.algorithm,
                    "k": k,
                    "seed": config.seed,
                    "names": {str(c): n for c, n in names.items()},
                },
                indent=2,
            )
        )
        ml_tables.ensure_tables(spark)
        ml_tables.overwrite(assigned, "customer_clusters")
        write_cluster_history(spark, pipeline_model, profiles, names, run_id, now)
        ml_tables.overwrite(ml_tables.rows_frame(spark, centroids, "cluster_centroids"), "cluster_centroids")
        ml_tables.append(ml_tables.rows_frame(spark, sweep_rows, "k_sweep"), "k_sweep")
        ml_tables.append(ml_tables.rows_frame(spark, run_row, "model_runs"), "model_runs")
    finally:
        scaled.unpersist()
        if assigned is not None:
            assigned.unpersist()

    return TrainResult(
        run_id=run_id,
        algorithm=config.algorithm,
        k=k,
        k_rule=rule,
        seed=config.seed,
        silhouette=final.silhouette,
        cost=final.cost,
        customers=stats.customers,
        cluster_sizes=sizes,
        cluster_names=names,
        model_path=model_path,
        sweep=[(p.k, p.cost, p.silhouette) for p in points],
        centroids=profiles,
    )
