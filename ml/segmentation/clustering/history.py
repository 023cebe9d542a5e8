"""Clusters across the history (SPEC 10): every calendar date's customers assigned by one fitted model, the
run's own scaler and clusterer, never refitted per date, so a cluster id and name mean one thing at every
date. At the run's as-of date the customers and their R, F, M are those of marts.customer_rfm, so the
assignment equals ml.customer_clusters."""

from __future__ import annotations

from datetime import datetime

from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segmentation import ml_tables
from segmentation.clustering import io
from segmentation.clustering.features import population
from segmentation.clustering.train import ClusterProfile, assign


def write_cluster_history(
    spark: SparkSession,
    model: PipelineModel,
    profiles: list[ClusterProfile],
    names: dict[int, str],
    run_id: str,
    assigned_at: datetime,
) -> None:
    """Assign every (date, customer) of marts.customer_rfm_history with monetary > 0 and replace
    ml.customer_cluster_history with it."""
    history = population(io.read_customer_rfm_history(spark))
    assigned = assign(model.transform(history), profiles, names).select(
        F.lit(run_id).alias("run_id"),
        "as_of_date",
        "customer_id",
        "cluster_id",
        "cluster_name",
        F.lit(assigned_at).alias("assigned_at"),
    )
    ml_tables.overwrite(assigned, "customer_cluster_history")
