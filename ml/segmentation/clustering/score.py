"""Assign clusters with a saved model, without retraining (`segmentation score`).

The saved PipelineModel holds every step from raw RFM columns to the cluster index (log1p, assembler,
scaler, estimator). Stable ids and names are recomputed from the model's own centroids with the same code
the training run used, so they are identical to the training run's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark import StorageLevel
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segmentation import ml_tables
from segmentation.clustering import io
from segmentation.clustering.features import check_population, population
from segmentation.clustering.history import write_cluster_history
from segmentation.clustering.naming import name_clusters
from segmentation.clustering.runner import RUN_METADATA_FILE
from segmentation.clustering.train import algorithm_of, assign, profiles_of
from segmentation.config import Settings
from segmentation.errors import SegmentationError


@dataclass
class ScoreResult:
    run_id: str
    model_path: Path
    algorithm: str
    k: int
    customers: int
    cluster_sizes: dict[int, int]
    cluster_names: dict[int, str]

    def describe(self) -> str:
        parts = ", ".join(
            f"{cid} {self.cluster_names[cid]}: {self.cluster_sizes.get(cid, 0):,}"
            for cid in sorted(self.cluster_names)
        )
        return (
            f"scored {self.customers:,} customers with model {self.run_id} ({self.algorithm}, k = {self.k}) "
            f"from {self.model_path}\n  {parts}"
        )


def _resolve_model_path(spark: SparkSession, model_path: Path | None) -> Path:
    if model_path is not None:
        return Path(model_path)
    latest = io.latest_run(spark)
    if latest is None or not latest.get("model_path"):
        raise SegmentationError(
            "no trained model: ml.model_runs is empty; run `segmentation run` first or pass --model-path"
        )
    return Path(latest["model_path"])


def load_model(path: Path) -> tuple[PipelineModel, dict]:
    metadata_file = path / RUN_METADATA_FILE
    if not path.is_dir() or not metadata_file.is_file():
        raise SegmentationError(f"no saved clustering model at {path}")
    try:
        model = PipelineModel.load(str(path))
    except Exception as exc:  # noqa: BLE001 - a corrupt folder must still give one line
        raise SegmentationError(
            f"cannot load the clustering model at {path}: {str(exc).splitlines()[0]}"
        ) from exc
    return model, json.loads(metadata_file.read_text())


def score_customers(spark: SparkSession, settings: Settings, model_path: Path | None = None) -> ScoreResult:
    path = _resolve_model_path(spark, model_path)
    model, metadata = load_model(path)
    pop = population(io.read_customer_rfm(spark))
    stats = check_population(pop)

    profiles = profiles_of(model)
    names = name_clusters(profiles)
    run_id = str(metadata["run_id"])
    algorithm = algorithm_of(model)
    k = len(profiles)
    now = datetime.now(UTC).replace(microsecond=0)
    assigned = (
        assign(model.transform(pop), profiles, names)
        .select(
            F.lit(run_id).alias("run_id"),
            "customer_id",
            "cluster_id",
            "cluster_name",
            F.lit(algorithm).alias("algorithm"),
            F.lit(k).alias("k"),
            F.lit(now).alias("assigned_at"),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        sizes = {
            r["cluster_id"]: int(r["n"])
            for r in assigned.groupBy("cluster_id").agg(F.count("*").alias("n")).collect()
        }
        ml_tables.ensure_tables(spark)
        ml_tables.overwrite(assigned, "customer_clusters")
        write_cluster_history(spark, model, profiles, names, run_id, now)
    finally:
        assigned.unpersist()
    return ScoreResult(
        run_id=run_id,
        model_path=path,
        algorithm=algorithm,
        k=k,
        customers=stats.customers,
        cluster_sizes=sizes,
        cluster_names=names,
    )
