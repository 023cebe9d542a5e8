"""Fitting one clustering model and giving its clusters stable ids (SPEC 9).

Stable ids: clusters are ordered by centroid monetary (original units) descending, ties by frequency
descending then recency ascending, then by the estimator's own index; the first gets cluster_id 0,
so ids run 0..k-1 and cluster 0 is always the highest-spending one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.clustering import (
    BisectingKMeans,
    BisectingKMeansModel,
    GaussianMixture,
    GaussianMixtureModel,
    KMeans,
    KMeansModel,
)
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import SQLTransformer, StandardScalerModel, VectorAssembler
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segmentation.clustering.features import FEATURES_COL, PREDICTION_COL, RAW_FEATURES, scaler_of
from segmentation.errors import SegmentationError

# What `cost` means per algorithm. GaussianMixture has no within-cluster distance; its cost is the negative
# log-likelihood of the training data, which also falls as k grows, so the elbow rule applies to it too.
COST_MEASURES = {
    "kmeans": "within_cluster_sse",
    "bisecting_kmeans": "within_cluster_sse",
    "gaussian_mixture": "negative_log_likelihood",
}


ANCHORED_COL = "features_anchored"


def _anchored_bisecting(common: dict) -> Pipeline:
    """BisectingKMeans that can split standardised data.

    Spark splits a cluster by nudging its centre by +/- 1e-4 * |centre|. The root centre of mean-0 data
    is the origin, so both children coincide and the model never splits (k = 4 returns 1 cluster). A
    constant 4th coordinate (1.0) moves the root off the origin without changing any distance between
    customers, so clusters, cost and silhouette are those of the three SPEC features.
    """
    return Pipeline(
        stages=[
            SQLTransformer(statement="select *, 1.0 as bisecting_anchor from __THIS__"),
            VectorAssembler(inputCols=[FEATURES_COL, "bisecting_anchor"], outputCol=ANCHORED_COL),
            BisectingKMeans(**{**common, "featuresCol": ANCHORED_COL}, distanceMeasure="euclidean"),
        ]
    )


def make_estimator(algorithm: str, k: int, seed: int, max_iter: int, tol: float):
    """An estimator reading FEATURES_COL and writing PREDICTION_COL (a small Pipeline for bisecting)."""
    common = dict(featuresCol=FEATURES_COL, predictionCol=PREDICTION_COL, k=k, seed=seed, maxIter=max_iter)
    if algorithm == "kmeans":
        return KMeans(**common, tol=tol, initMode="k-means||", distanceMeasure="euclidean")
    if algorithm == "bisecting_kmeans":
        return _anchored_bisecting(common)
    if algorithm == "gaussian_mixture":
        # Hard assignment: `prediction` is the most probable component; `probability` is dropped later.
        return GaussianMixture(**common, tol=tol, probabilityCol="cluster_probability")
    raise SegmentationError(f"unknown clustering algorithm {algorithm!r}")


def stages_of(model: Transformer) -> list[Transformer]:
    """A fitted clustering step as a flat list of stages (the bisecting step has three)."""
    return list(model.stages) if isinstance(model, PipelineModel) else [model]


def clusterer_of(model: Transformer) -> Transformer:
    """The fitted clustering model itself: the last stage."""
    return stages_of(model)[-1]


def centers_of(model: Transformer) -> list[list[float]]:
    """Cluster centres in scaled feature space (the 3 SPEC features), indexed by the model's prediction."""
    model = clusterer_of(model)
    dims = len(RAW_FEATURES)  # drops the bisecting anchor coordinate
    if isinstance(model, KMeansModel | BisectingKMeansModel):
        return [[float(x) for x in c][:dims] for c in model.clusterCenters()]
    if isinstance(model, GaussianMixtureModel):
        return [[float(x) for x in g.mean][:dims] for g in model.gaussians]
    raise SegmentationError(f"unsupported clustering model {type(model).__name__}")


def cost_of(model: Transformer) -> float:
    model = clusterer_of(model)
    if isinstance(model, KMeansModel | BisectingKMeansModel):
        return float(model.summary.trainingCost)
    if isinstance(model, GaussianMixtureModel):
        return -float(model.summary.logLikelihood)
    raise SegmentationError(f"unsupported clustering model {type(model).__name__}")


def algorithm_of(model: Transformer) -> str:
    model = clusterer_of(model)
    if isinstance(model, KMeansModel):
        return "kmeans"
    if isinstance(model, BisectingKMeansModel):
        return "bisecting_kmeans"
    if isinstance(model, GaussianMixtureModel):
        return "gaussian_mixture"
    raise SegmentationError(f"unsupported clustering model {type(model).__name__}")


def silhouette_of(predictions: DataFrame) -> float | None:
    """Mean silhouette on the scaled features, squared euclidean (MLlib's default); None when undefined
    (fewer than two non-empty clusters)."""
    evaluator = ClusteringEvaluator(
        featuresCol=FEATURES_COL,
        predictionCol=PREDICTION_COL,
        metricName="silhouette",
        distanceMeasure="squaredEuclidean",
    )
    try:
        value = float(evaluator.evaluate(predictions))
    except Exception:  # noqa: BLE001 - Spark raises for a single predicted cluster; that is "undefined"
        return None
    return None if math.isnan(value) else value


@dataclass
class FittedClustering:
    algorithm: str
    k: int
    model: Transformer
    cost: float
    silhouette: float | None

    @property
    def centers(self) -> list[list[float]]:
        return centers_of(self.model)


def fit_clustering(
    scaled: DataFrame, algorithm: str, k: int, seed: int, max_iter: int, tol: float
) -> FittedClustering:
    """Fit one estimator on the cached scaled features and measure cost and silhouette."""
    model = make_estimator(algorithm, k, seed, max_iter, tol).fit(scaled)
    return FittedClustering(
        algorithm=algorithm,
        k=k,
        model=model,
        cost=cost_of(model),
        silhouette=silhouette_of(model.transform(scaled)),
    )


@dataclass(frozen=True)
class ClusterProfile:
    """One cluster's centroid: in scaled units (z-scores of log1p features) and in original units."""

    cluster_id: int
    raw_index: int  # the estimator's own prediction value
    scaled_recency: float
    scaled_frequency: float
    scaled_monetary: float
    recency_days: float
    frequency: float
    monetary: float


def profiles_from_centers(centers: list[list[float]], scaler: StandardScalerModel) -> list[ClusterProfile]:
    """Undo the scaling (z * std + mean) and the log1p (expm1), then order clusters for stable ids."""
    mean = [float(x) for x in scaler.mean]
    std = [float(x) for x in scaler.std]
    rows = []
    for raw_index, center in enumerate(centers):
        original = [math.expm1(z * s + m) for z, s, m in zip(center, std, mean, strict=True)]
        rows.append((raw_index, center, original))
    # Order: monetary desc, frequency desc, recency asc, then raw index (total, so ids are deterministic).
    rows.sort(key=lambda r: (-r[2][2], -r[2][1], r[2][0], r[0]))
    return [
        ClusterProfile(
            cluster_id=cluster_id,
            raw_index=raw_index,
            scaled_recency=center[0],
            scaled_frequency=center[1],
            scaled_monetary=center[2],
            recency_days=original[0],
            frequency=original[1],
            monetary=original[2],
        )
        for cluster_id, (raw_index, center, original) in enumerate(rows)
    ]


def centroid_rows(
    run_id: str, profiles: list[ClusterProfile], names: dict[int, str], sizes: dict[int, int]
) -> list[tuple]:
    """ml.cluster_centroids rows, in its column order: each cluster's size, centroid in original units and
    in scaled units."""
    return [
        (
            run_id,
            p.cluster_id,
            names[p.cluster_id],
            int(sizes.get(p.cluster_id, 0)),
            p.recency_days,
            p.frequency,
            p.monetary,
            p.scaled_recency,
            p.scaled_frequency,
            p.scaled_monetary,
        )
        for p in profiles
    ]


def profiles_of(pipeline_model: PipelineModel) -> list[ClusterProfile]:
    return profiles_from_centers(centers_of(pipeline_model), scaler_of(pipeline_model))


def _lookup(values: list, index: Column) -> Column:
    """values[index] as a Column: a literal array indexed by the raw prediction (k entries)."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), index.cast("int") + 1)


def assign(predictions: DataFrame, profiles: list[ClusterProfile], names: dict[int, str]) -> DataFrame:
    """Add cluster_id and cluster_name to a frame with the estimator's raw prediction."""
    by_raw = sorted(profiles, key=lambda p: p.raw_index)
    raw = F.col(PREDICTION_COL)
    return predictions.withColumn("cluster_id", _lookup([p.cluster_id for p in by_raw], raw)).withColumn(
        "cluster_name", _lookup([names[p.cluster_id] for p in by_raw], raw)
    )
