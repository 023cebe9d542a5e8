"""The segment classifier on the bundled sample: both tables written, metrics in range, a baseline, and no
R/F/M leakage in the features."""

from __future__ import annotations

import json

import pytest

from test_report import ensure_classifier_run, ensure_report_warehouse


@pytest.fixture(scope="module")
def classifier_result(spark, settings, pipeline_run):
    ensure_report_warehouse(spark, settings)
    return ensure_classifier_run(spark, settings)


def test_features_exclude_rfm_and_have_no_nulls(spark, settings, pipeline_run):
    from segmentation.classifier.features import NUMERIC_FEATURES, customer_features

    ensure_report_warehouse(spark, settings)
    features = customer_features(spark)
    forbidden = {
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "rfm_cell",
        "avg_order_value",
    }
    assert not forbidden & set(features.columns)
    assert features.count() == spark.table("marts.customer_rfm").count()
    nulls = features.selectExpr(*[f"count_if({c} is null) as {c}" for c in NUMERIC_FEATURES]).first().asDict()
    assert all(count == 0 for count in nulls.values()), nulls
    # The first order is a real order: at least one line for every customer (each has a purchase).
    assert features.where("log_first_order_lines <= 0").count() == 0


def test_metrics_written_and_in_range(spark, classifier_result):
    run_id = classifier_result.run_id
    rows = spark.sql(f"select * from ml.classifier_metrics where run_id = '{run_id}'").collect()
    assert rows and len(rows) == len(classifier_result.metrics)
    assert {r["model"] for r in rows} == {"decision_tree", "logistic_regression"}
    targets = {r["target"] for r in rows}
    assert "rfm_segment" in targets
    has_clusters = spark.sql(
        "select count(*) from marts.dim_customers "
        "where cluster_name is not null and cluster_name != 'Unclustered'"
    ).first()[0]
    assert ("cluster" in targets) == (has_clusters > 0)
    for r in rows:
        for column in (
            "accuracy",
            "weighted_precision",
            "weighted_recall",
            "f1",
            "baseline_accuracy",
            "cv_f1",
        ):
            assert 0.0 <= r[column] <= 1.0, (column, r[column])
        assert r["train_customers"] > r["test_customers"] > 0
        assert json.loads(r["params"])["cv_folds"] == 5
    for target in targets:
        best = [r for r in rows if r["target"] == target and r["is_best"]]
        assert len(best) == 1
        assert best[0]["cv_f1"] == max(r["cv_f1"] for r in rows if r["target"] == target)


def test_baseline_is_the_majority_share_of_the_test_split(spark, classifier_result):
    run_id = classifier_result.run_id
    for target, model in {(m["target"], m["model"]) for m in classifier_result.metrics}:
        cells = spark.sql(
            f"select actual, predicted, count from ml.classifier_confusion "
            f"where run_id = '{run_id}' and target = '{target}' and model = '{model}'"
        ).toPandas()
        metrics = next(m for m in classifier_result.metrics if m["target"] == target and m["model"] == model)
        assert int(cells["count"].sum()) == metrics["test_customers"]
        correct = int(cells.loc[cells["actual"] == cells["predicted"], "count"].sum())
        assert correct / metrics["test_customers"] == pytest.approx(metrics["accuracy"])
        # The baseline predicts one class for all: its accuracy is that class's share of the test split,
        # so it can never exceed the largest class share.
        largest_share = cells.groupby("actual")["count"].sum().max() / metrics["test_customers"]
        assert 0 < metrics["baseline_accuracy"] <= largest_share + 1e-9


def test_feature_importances_sum_to_one(spark, classifier_result):
    run_id = classifier_result.run_id
    rows = spark.sql(
        f"select target, sum(importance) as total, count(*) as features "
        f"from ml.classifier_feature_importance "
        f"where run_id = '{run_id}' group by target"
    ).collect()
    assert rows
    for r in rows:
        assert r["total"] == pytest.approx(1.0, abs=1e-6)
        assert r["features"] == 10  # nine numeric features plus main_country


def test_describe_mentions_baseline(classifier_result):
    text = classifier_result.describe()
    assert "baseline" in text and classifier_result.run_id in text


def test_scores_from_confusion_match_spark_evaluator(spark):
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator

    from segmentation.classifier.train import scores_from_confusion

    # Three classes, one never predicted (precision 0 by Spark's definition), uneven supports.
    cells = {(0, 0): 5, (0, 1): 2, (1, 1): 3, (1, 0): 1, (2, 0): 2, (2, 1): 1}
    rows = [(float(a), float(p)) for (a, p), n in cells.items() for _ in range(n)]
    frame = spark.createDataFrame(rows, "label double, prediction double")
    ours = scores_from_confusion(cells)
    for name, metric in (
        ("accuracy", "accuracy"),
        ("weighted_precision", "weightedPrecision"),
        ("weighted_recall", "weightedRecall"),
        ("f1", "f1"),
    ):
        expected = MulticlassClassificationEvaluator(metricName=metric).evaluate(frame)
        assert ours[name] == pytest.approx(expected), name
