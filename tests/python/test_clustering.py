"""MLlib clustering on a real SparkSession with synthetic marts.customer_rfm rows (SPEC 9).

The data are well separated archetypes in log space, so the expected clusters and names are known.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

AS_OF = date(2011, 12, 10)

# The full marts.customer_rfm contract, so the test table looks like the real mart.
RFM_SCHEMA = StructType(
    [
        StructField("customer_id", StringType()),
        StructField("as_of_date", DateType()),
        StructField("recency_days", IntegerType()),
        StructField("frequency", LongType()),
        StructField("monetary", DoubleType()),
        StructField("r_score", IntegerType()),
        StructField("f_score", IntegerType()),
        StructField("m_score", IntegerType()),
        StructField("rfm_cell", StringType()),
        StructField("rfm_segment", StringType()),
        StructField("first_purchase_at", TimestampType()),
        StructField("last_purchase_at", TimestampType()),
        StructField("tenure_days", IntegerType()),
        StructField("avg_order_value", DoubleType()),
        StructField("distinct_products", LongType()),
        StructField("main_country", StringType()),
        StructField("cancellation_rate", DoubleType()),
    ]
)

# (recency_days, frequency, monetary) centres in original units, one per SPEC 9 archetype.
FOUR_ARCHETYPES = {
    "VIP": (8, 25, 9000.0),
    "Potential": (60, 5, 1500.0),
    "New": (12, 1, 180.0),
    "Churned": (320, 1, 250.0),
}
THREE_BLOBS = {
    "a": (5, 30, 20000.0),
    "b": (90, 4, 900.0),
    "c": (400, 1, 60.0),
}


def rfm_rows(
    archetypes: dict[str, tuple], per_group: int, seed: int = 1, zero_monetary: int = 0
) -> list[tuple]:
    """per_group customers around each centre (log-normal noise, sd 0.15), plus customers with monetary 0."""
    rng = random.Random(seed)
    rows = []
    for label, (recency, frequency, monetary) in archetypes.items():
        for i in range(per_group):
            r = max(0, round(math.expm1(math.log1p(recency) + rng.gauss(0, 0.15))))
            f = max(1, round(math.expm1(math.log1p(frequency) + rng.gauss(0, 0.15))))
            m = round(math.expm1(math.log1p(monetary) + rng.gauss(0, 0.15)), 2)
            rows.append(_row(f"{label}-{i:03d}", r, f, m))
    for i in range(zero_monetary):
        rows.append(_row(f"zero-{i:03d}", 30, 1, 0.0 if i % 2 else -12.5))
    return rows


def _row(customer_id: str, recency: int, frequency: int, monetary: float) -> tuple:
    last = datetime.combine(AS_OF - timedelta(days=recency), datetime.min.time())
    first = last - timedelta(days=30 * frequency)
    return (
        customer_id,
        AS_OF,
        recency,
        frequency,
        monetary,
        3,
        3,
        3,
        "333",
        "Others",
        first,
        last,
        (AS_OF - first.date()).days,
        round(monetary / frequency, 2),
        frequency * 3,
        "United Kingdom",
        0.0,
    )


def write_rfm(spark: SparkSession, rows: list[tuple]) -> None:
    """The marts the clustering step reads: customer_rfm, and its history with the run's date only."""
    spark.sql("create database if not exists marts")
    for name in ("customer_rfm", "customer_rfm_history", "history_calendar"):
        # A pipeline run leaves these as views (swap_table); an earlier test here as tables.
        if spark.catalog.tableExists(f"marts.{name}"):
            kind = "view" if spark.catalog.getTable(f"marts.{name}").tableType == "VIEW" else "table"
            spark.sql(f"drop {kind} marts.{name}")
    frame = spark.createDataFrame(rows, RFM_SCHEMA).coalesce(1)
    frame.write.mode("overwrite").format("parquet").saveAsTable("marts.customer_rfm")
    frame.write.mode("overwrite").format("parquet").saveAsTable("marts.customer_rfm_history")
    frame.selectExpr("max(as_of_date) as as_of_date", "true as is_run_as_of_date").write.mode(
        "overwrite").format("parquet").saveAsTable("marts.history_calendar")


# --------------------------------------------------------------------------------------------- helpers

ML_TABLES = ("customer_clusters", "cluster_centroids", "model_runs", "k_sweep")


def assignment(spark: SparkSession) -> dict[str, int]:
    """customer_id -> cluster_id of the latest assignment (a few hundred test rows)."""
    return {r["customer_id"]: r["cluster_id"] for r in spark.table("ml.customer_clusters").collect()}


def snapshot(spark: SparkSession) -> dict[str, list]:
    """Every ml table's rows, sorted, to prove a failed run changed nothing."""
    out = {}
    for name in ML_TABLES:
        if spark.catalog.tableExists(f"ml.{name}"):
            out[name] = sorted(tuple(str(v) for v in r) for r in spark.table(f"ml.{name}").collect())
    return out


def groups_of(assigned: dict[str, int]) -> dict[str, set[int]]:
    """archetype label (customer id prefix) -> cluster ids its customers landed in."""
    out: dict[str, set[int]] = {}
    for customer_id, cluster_id in assigned.items():
        out.setdefault(customer_id.split("-")[0], set()).add(cluster_id)
    return out


def fixed(k: int, **kwargs):
    from segmentation.clustering import ClusteringConfig

    return ClusteringConfig(k=k, sweep_when_fixed=False, **kwargs)


@pytest.fixture(scope="module")
def four_archetypes(spark):
    write_rfm(spark, rfm_rows(FOUR_ARCHETYPES, per_group=40, seed=3, zero_monetary=6))
    return spark


@pytest.fixture(scope="module")
def trained_k4(four_archetypes, settings):
    from segmentation.clustering import train_clusters

    spark = four_archetypes
    result = train_clusters(spark, settings, fixed(4, seed=42))
    return result, assignment(spark), [r.asDict() for r in spark.table("ml.cluster_centroids").collect()]


# ----------------------------------------------------------------------------------------------- tests
# Tests run in file order; the last two replace marts.customer_rfm, so they stay at the end.


def test_k4_names_follow_spec_archetypes(trained_k4):
    from segmentation.clustering.naming import check_k4_names_match_spec

    result, assigned, centroids = trained_k4
    assert result.k == 4 and result.customers == 160
    # Every archetype is one cluster, and that cluster carries the archetype's SPEC 9 name.
    groups = groups_of(assigned)
    assert "zero" not in groups  # monetary <= 0: not clustered (Unclustered downstream)
    for label in FOUR_ARCHETYPES:
        (cluster_id,) = groups[label]
        assert result.cluster_names[cluster_id] == label
    check_k4_names_match_spec(centroids)
    # Stable ids: cluster 0 has the highest centroid monetary, then descending.
    monetary = [c["monetary"] for c in sorted(centroids, key=lambda c: c["cluster_id"])]
    assert monetary == sorted(monetary, reverse=True)
    assert sorted(c["cluster_id"] for c in centroids) == [0, 1, 2, 3]
    assert {c["customers"] for c in centroids} == {40}
    # Original-unit centroids undo log1p + scaling: the VIP centroid sits near the archetype's centre.
    vip = next(c for c in centroids if c["cluster_name"] == "VIP")
    assert 6000 < vip["monetary"] < 13000 and 18 < vip["frequency"] < 35


def test_run_row_and_model_are_written(trained_k4, spark):
    result, _, _ = trained_k4
    runs = [r for r in spark.table("ml.model_runs").collect() if r["run_id"] == result.run_id]
    assert len(runs) == 1
    run = runs[0]
    assert (run["algorithm"], run["k"], run["k_rule"], run["seed"], run["customers"]) == (
        "kmeans",
        4,
        "fixed",
        42,
        160,
    )
    assert run["as_of_date"] == AS_OF and 0.5 < run["silhouette"] <= 1
    assert Path(run["model_path"]).is_dir() and '"seed": 42' in run["parameters"]
    assert {r["run_id"] for r in spark.table("ml.customer_clusters").collect()} == {result.run_id}
    assert result.run_id in result.describe()


def test_same_seed_gives_same_assignment(trained_k4, settings, spark):
    from segmentation.clustering import train_clusters

    first, first_assigned, _ = trained_k4
    again = train_clusters(spark, settings, fixed(4, seed=42))
    assert again.run_id != first.run_id
    assert assignment(spark) == first_assigned
    # Overwritten, not appended: only the latest run's rows remain.
    latest = spark.table("ml.customer_clusters")
    assert latest.count() == 160 and {r["run_id"] for r in latest.select("run_id").distinct().collect()} == {
        again.run_id
    }
    centroid_runs = {r["run_id"] for r in spark.table("ml.cluster_centroids").collect()}
    assert centroid_runs == {again.run_id}
    assert again.cluster_names == first.cluster_names


def test_other_seed_keeps_stable_ids_and_distinct_names(four_archetypes, trained_k4, settings):
    from segmentation.clustering import train_clusters

    spark = four_archetypes
    first, first_assigned, _ = trained_k4
    other = train_clusters(spark, settings, fixed(4, seed=7))
    assert len(set(other.cluster_names.values())) == 4
    # Separated archetypes: another seed finds the same clusters, and stable ids number them the same way.
    assert assignment(spark) == first_assigned
    assert other.cluster_names == first.cluster_names


def test_bisecting_kmeans_splits_standardised_data(four_archetypes, settings):
    from segmentation.clustering import train_clusters

    spark = four_archetypes
    result = train_clusters(spark, settings, fixed(4, algorithm="bisecting_kmeans", seed=42))
    # Without the anchor coordinate Spark never splits mean-0 data and finds a single cluster. Top-down
    # splits can cut an archetype, so only "4 real clusters, clearly better than chance" is asserted.
    assert len(set(result.cluster_names.values())) == 4
    assert len(result.cluster_sizes) == 4 and min(result.cluster_sizes.values()) > 0
    assert result.silhouette > 0.5
    assert {r["algorithm"] for r in spark.table("ml.customer_clusters").collect()} == {"bisecting_kmeans"}


def test_gaussian_mixture_uses_hard_assignment(four_archetypes, settings):
    from segmentation.clustering import train_clusters

    spark = four_archetypes
    result = train_clusters(spark, settings, fixed(4, algorithm="gaussian_mixture", seed=7))
    # GaussianMixture's random start can merge archetypes, so only the contract is checked here.
    assert len(set(result.cluster_names.values())) == 4
    assert sum(result.cluster_sizes.values()) == 160  # every customer gets exactly one (hard) cluster
    rows = spark.table("ml.cluster_centroids").collect()
    assert sorted(r["cluster_id"] for r in rows) == [0, 1, 2, 3]
    assert result.silhouette is not None and result.cost is not None


def test_score_reuses_the_saved_model(four_archetypes, settings):
    from segmentation.clustering import train_clusters
    from segmentation.clustering.score import score_customers

    spark = four_archetypes
    trained = train_clusters(spark, settings, fixed(4, seed=11))
    trained_assigned = assignment(spark)
    spark.sql("truncate table ml.customer_clusters")
    scored = score_customers(spark, settings)  # default: the latest run's model
    assert scored.run_id == trained.run_id and scored.cluster_names == trained.cluster_names
    assert assignment(spark) == trained_assigned
    assert {r["cluster_name"] for r in spark.table("ml.customer_clusters").collect()} == set(FOUR_ARCHETYPES)
    explicit = score_customers(spark, settings, model_path=trained.model_path)
    assert explicit.cluster_sizes == scored.cluster_sizes == {c: 40 for c in range(4)}


def test_compare_appends_three_rows(four_archetypes, settings):
    from segmentation.clustering.compare import compare_algorithms

    spark = four_archetypes
    result = compare_algorithms(spark, settings, k=None, seed=42)  # k from the latest run: 4
    rows = [r for r in spark.table("ml.algorithm_comparison").collect() if r["run_id"] == result.run_id]
    assert sorted(r["algorithm"] for r in rows) == ["bisecting_kmeans", "gaussian_mixture", "kmeans"]
    assert {r["k"] for r in rows} == {4} and {r["customers"] for r in rows} == {160}
    by_algorithm = {r["algorithm"]: r for r in rows}
    assert by_algorithm["kmeans"]["silhouette"] > 0.9 and by_algorithm["bisecting_kmeans"]["silhouette"] > 0.5
    assert by_algorithm["gaussian_mixture"]["cost_measure"] == "negative_log_likelihood"
    assert "gaussian_mixture" in result.describe()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (dict(k=1), "between 2 and 50"),
        (dict(k=51), "between 2 and 50"),
        (dict(k=4, algorithm="dbscan"), "unknown clustering algorithm"),
    ],
)
def test_bad_configuration_fails_and_writes_nothing(four_archetypes, trained_k4, settings, config, message):
    from segmentation.clustering import ClusteringConfig, train_clusters
    from segmentation.errors import SegmentationError

    spark = four_archetypes
    before = snapshot(spark)
    with pytest.raises(SegmentationError, match=message) as info:
        train_clusters(spark, settings, ClusteringConfig(**config))
    assert "\n" not in str(info.value)
    assert snapshot(spark) == before


def test_missing_model_fails_and_writes_nothing(four_archetypes, trained_k4, settings, tmp_path):
    from segmentation.clustering.score import score_customers
    from segmentation.errors import SegmentationError

    spark = four_archetypes
    before = snapshot(spark)
    with pytest.raises(SegmentationError, match="no saved clustering model"):
        score_customers(spark, settings, model_path=tmp_path / "nope")
    assert snapshot(spark) == before


def test_concurrent_sweep_equals_one_fit_at_a_time(four_archetypes, monkeypatch):
    """The sweep fits several k side by side; every k must come out as it does when fitted alone."""
    from segmentation.clustering import io, select
    from segmentation.clustering.config import DEFAULT_MAX_ITER, DEFAULT_TOL
    from segmentation.clustering.features import fit_preprocessing, population, scaled_features

    pop = population(io.read_customer_rfm(four_archetypes))
    scaled = scaled_features(fit_preprocessing(pop), pop)
    try:
        ks = [2, 3, 4, 5, 6]
        monkeypatch.setattr(select, "sweep_concurrency", lambda _scaled, _fits: 3)
        side_by_side = select.points_of(select.sweep(scaled, "kmeans", ks, 42, DEFAULT_MAX_ITER, DEFAULT_TOL))
        monkeypatch.setattr(select, "sweep_concurrency", lambda _scaled, _fits: 1)
        one_at_a_time = select.points_of(select.sweep(scaled, "kmeans", ks, 42, DEFAULT_MAX_ITER, DEFAULT_TOL))
    finally:
        scaled.unpersist()
    assert [p.k for p in side_by_side] == ks
    assert side_by_side == one_at_a_time


def test_k_rules_find_three_blobs(spark, settings, trained_k4):
    from segmentation.clustering import ClusteringConfig, train_clusters
    from segmentation.clustering.select import SweepPoint, choose_k

    write_rfm(spark, rfm_rows(THREE_BLOBS, per_group=30, seed=5))
    # The default path, as a run without --k takes it: no k, no rule given.
    result = train_clusters(spark, settings, ClusteringConfig(seed=42))
    assert (result.k, result.k_rule) == (3, "elbow"), result.sweep
    sweep = [r for r in spark.table("ml.k_sweep").collect() if r["run_id"] == result.run_id]
    assert sorted(r["k"] for r in sweep) == list(range(2, 11))
    assert [r["k"] for r in sweep if r["is_chosen"]] == [3]
    assert max(sweep, key=lambda r: r["silhouette"])["k"] == 3
    # The silhouette rule on the same recorded sweep (real MLlib costs) also finds the three blobs.
    points = [SweepPoint(r["k"], r["cost"], r["silhouette"], r["k"]) for r in sweep]  # unsorted on purpose
    assert choose_k("silhouette", points) == choose_k("elbow", points) == 3
    # Each blob is one cluster.
    assert all(len(ids) == 1 for ids in groups_of(assignment(spark)).values())


def test_empty_or_too_small_population_fails_and_writes_nothing(spark, settings, trained_k4):
    from segmentation.clustering import ClusteringConfig, train_clusters
    from segmentation.errors import SegmentationError

    before = snapshot(spark)
    write_rfm(spark, rfm_rows({}, per_group=0, zero_monetary=4))  # only monetary <= 0
    with pytest.raises(SegmentationError, match="no customer with monetary > 0"):
        train_clusters(spark, settings, ClusteringConfig(k=3))
    write_rfm(spark, [])
    with pytest.raises(SegmentationError, match="no customer with monetary > 0"):
        train_clusters(spark, settings, ClusteringConfig())
    write_rfm(spark, rfm_rows(THREE_BLOBS, per_group=2, seed=5))  # 6 customers
    with pytest.raises(SegmentationError, match="only 6 customer.*fewer than k = 7"):
        train_clusters(spark, settings, ClusteringConfig(k=7))
    assert snapshot(spark) == before
