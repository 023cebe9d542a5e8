"""Train and evaluate the segment classifiers (issue 8, item 2).

For each target (cluster name, RFM segment): a stratified 80/20 split with a fixed seed; a feature pipeline
(country one-hot + numeric features) fitted on the training split only; DecisionTreeClassifier and
LogisticRegression, each tuned by 5-fold CrossValidator over a small grid on the training split; then
scored once on the held-out split next to a majority-class baseline. The best model per target is the one
with the best cross-validated F1 (not the best test score, which would overfit the choice to the test set).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import DecisionTreeClassifier, LogisticRegression
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.tuning import CrossValidator, CrossValidatorModel, ParamGridBuilder
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation import ml_tables
from segmentation.classifier.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    TARGET_COLUMNS,
    customer_features,
    labelled_rows,
)
from segmentation.classifier.io import append_rows
from segmentation.config import Settings
from segmentation.errors import SegmentationError

log = logging.getLogger(__name__)
TRAIN_FRACTION = 0.8
CV_FOLDS = 5
# Below these, a 5-fold CV has folds too small to say anything; the target is skipped with a reason.
MIN_TRAIN_ROWS = 2 * CV_FOLDS
MIN_CLASSES = 2


@dataclass
class ClassifierResult:
    run_id: str
    metrics: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def best(self, target: str) -> dict[str, Any] | None:
        return next((m for m in self.metrics if m["target"] == target and m["is_best"]), None)

    def describe(self) -> str:
        lines = [f"classifier run {self.run_id}"]
        for row in self.metrics:
            lines.append(
                f"  {row['target']:<12} {row['model']:<20} accuracy {row['accuracy']:.3f} "
                f"(baseline {row['baseline_accuracy']:.3f})  F1 {row['f1']:.3f} "
                f"(baseline {row['baseline_f1']:.3f})  5-fold CV F1 {row['cv_f1']:.3f}"
                f"{'  best (by CV F1)' if row['is_best'] else ''}"
            )
        lines += [f"  {target}: skipped ({reason})" for target, reason in self.skipped.items()]
        return "\n".join(lines)


def _estimators(seed: int) -> dict[str, tuple[Any, list]]:
    """Small grids on purpose: 5 folds x (2 + 2) candidates stays well under a minute on ~4k customers."""
    tree = DecisionTreeClassifier(featuresCol="features", labelCol="label", minInstancesPerNode=5, seed=seed)
    tree_grid = ParamGridBuilder().addGrid(tree.maxDepth, [4, 8]).build()
    # LogisticRegression standardises features internally, so no scaler is needed in the pipeline.
    logistic = LogisticRegression(featuresCol="features", labelCol="label", maxIter=30, family="multinomial")
    logistic_grid = ParamGridBuilder().addGrid(logistic.regParam, [0.01, 0.1]).build()
    return {
        "decision_tree": (tree, tree_grid),
        "logistic_regression": (logistic, logistic_grid),
    }


def _feature_pipeline() -> Pipeline:
    (country,) = CATEGORICAL_FEATURES
    return Pipeline(
        stages=[
            # "keep" gives a country seen only in the test split its own bucket instead of failing.
            StringIndexer(inputCol=country, outputCol="country_index", handleInvalid="keep"),
            OneHotEncoder(inputCol="country_index", outputCol="country_vector", handleInvalid="keep"),
            VectorAssembler(inputCols=[*NUMERIC_FEATURES, "country_vector"], outputCol="features"),
        ]
    )


def _stratified_split(rows: DataFrame, labels: list[str], seed: int) -> tuple[DataFrame, DataFrame]:
    """Per-class 80/20 sample, so that small segments appear in both splits whenever they can."""
    train = rows.sampleBy("target_label", {label: TRAIN_FRACTION for label in labels}, seed=seed)
    test = rows.join(train.select("customer_id"), on="customer_id", how="left_anti")
    return train, test


def _feature_names(assembled: DataFrame) -> list[str]:
    """Names of the assembled vector's slots, with every country dummy mapped back to main_country."""
    attrs = assembled.schema["features"].metadata["ml_attr"]["attrs"]
    slots = sorted((a for group in attrs.values() for a in group), key=lambda a: a["idx"])
    return [a["name"] if a["name"] in NUMERIC_FEATURES else CATEGORICAL_FEATURES[0] for a in slots]


def scores_from_confusion(cells: dict[tuple[int, int], int]) -> dict[str, float]:
    """Accuracy and label-frequency-weighted precision, recall and F1 from (actual, predicted) -> count,
    with Spark's MulticlassMetrics definitions (a label never predicted has precision 0). Computing them
    from the collected matrix saves four Spark jobs per model."""
    total = sum(cells.values())
    labels = {a for a, _ in cells} | {p for _, p in cells}
    actual = {label: sum(n for (a, _), n in cells.items() if a == label) for label in labels}
    predicted = {label: sum(n for (_, p), n in cells.items() if p == label) for label in labels}
    scores = {"accuracy": 0.0, "weighted_precision": 0.0, "weighted_recall": 0.0, "f1": 0.0}
    if total == 0:
        return scores
    for label in labels:
        true_positive = cells.get((label, label), 0)
        precision = true_positive / predicted[label] if predicted[label] else 0.0
        recall = true_positive / actual[label] if actual[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        weight = actual[label] / total
        scores["accuracy"] += true_positive / total
        scores["weighted_precision"] += weight * precision
        scores["weighted_recall"] += weight * recall
        scores["f1"] += weight * f1
    return scores


def _confusion(predictions: DataFrame) -> dict[tuple[int, int], int]:
    return {
        (int(r["label"]), int(r["prediction"])): int(r["count"])
        for r in predictions.groupBy("label", "prediction").count().collect()
    }


def _best_params(cv_model: CrossValidatorModel) -> tuple[dict[str, Any], float]:
    metrics = list(cv_model.avgMetrics)
    best = max(range(len(metrics)), key=metrics.__getitem__)
    params = {param.name: value for param, value in cv_model.getEstimatorParamMaps()[best].items()}
    return params, float(metrics[best])


def _train_target(
    spark: SparkSession, features: DataFrame, target: str, run_id: str, trained_at: datetime, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], str | None]:
    rows = labelled_rows(features, target).cache()
    class_counts = {
        r["target_label"]: int(r["n"])
        for r in rows.groupBy("target_label").agg(F.count("*").alias("n")).collect()
    }
    if len(class_counts) < MIN_CLASSES:
        rows.unpersist()
        return (
            [],
            [],
            [],
            f"{len(class_counts)} class(es) among labelled customers; need at least {MIN_CLASSES}",
        )

    label_indexer = StringIndexer(
        inputCol="target_label", outputCol="label", stringOrderType="frequencyDesc"
    ).fit(rows)
    labels: list[str] = list(label_indexer.labels)
    train, test = _stratified_split(label_indexer.transform(rows), labels, seed)
    featurizer: PipelineModel = _feature_pipeline().fit(train)
    # A few thousand customers fit one partition; fewer tasks per CV fit matter more than parallelism here.
    partitions = max(1, min(8, rows.count() // 100_000 + 1))
    train_set = (
        featurizer.transform(train).select("customer_id", "label", "features").coalesce(partitions).cache()
    )
    test_set = (
        featurizer.transform(test).select("customer_id", "label", "features").coalesce(partitions).cache()
    )
    n_train, n_test = train_set.count(), test_set.count()
    if n_train < MIN_TRAIN_ROWS or n_test == 0:
        for frame in (rows, train_set, test_set):
            frame.unpersist()
        return (
            [],
            [],
            [],
            f"{n_train} training and {n_test} test customers are too few for {CV_FOLDS}-fold CV",
        )

    # Majority class of the training split, predicted for everyone in the test split.
    majority = int(
        train_set.groupBy("label").count().orderBy(F.desc("count"), F.asc("label")).first()["label"]
    )
    test_counts = {int(r["label"]): int(r["count"]) for r in test_set.groupBy("label").count().collect()}
    baseline = scores_from_confusion({(label, majority): n for label, n in test_counts.items()})

    metrics_rows: list[dict[str, Any]] = []
    confusion_rows: list[dict[str, Any]] = []
    importance_rows: list[dict[str, Any]] = []
    f1_evaluator = MulticlassClassificationEvaluator(
        labelCol="label", predictionCol="prediction", metricName="f1"
    )
    for model_name, (estimator, grid) in _estimators(seed).items():
        cv = CrossValidator(
            estimator=estimator,
            estimatorParamMaps=grid,
            evaluator=f1_evaluator,
            numFolds=CV_FOLDS,
            seed=seed,
            parallelism=2,
        )
        started = time.perf_counter()
        cv_model = cv.fit(train_set)
        log.info("%s/%s: cross-validation took %.1fs", target, model_name, time.perf_counter() - started)
        params, cv_f1 = _best_params(cv_model)
        cells = _confusion(cv_model.bestModel.transform(test_set))
        scores = scores_from_confusion(cells)
        metrics_rows.append(
            {
                "run_id": run_id,
                "target": target,
                "model": model_name,
                **scores,
                "baseline_accuracy": baseline["accuracy"],
                "baseline_f1": baseline["f1"],
                "cv_f1": cv_f1,
                "train_customers": n_train,
                "test_customers": n_test,
                "classes": len(labels),
                "is_best": False,
                "params": json.dumps({**params, "cv_folds": CV_FOLDS, "seed": seed}, sort_keys=True),
                "trained_at": trained_at,
            }
        )
        confusion_rows += [
            {
                "run_id": run_id,
                "target": target,
                "model": model_name,
                "actual": labels[actual],
                "predicted": labels[predicted],
                "count": count,
            }
            for (actual, predicted), count in sorted(cells.items())
        ]
        if model_name == "decision_tree":
            importance: dict[str, float] = {}
            names = _feature_names(train_set)
            for name, value in zip(names, cv_model.bestModel.featureImportances.toArray(), strict=True):
                importance[name] = importance.get(name, 0.0) + float(value)
            importance_rows += [
                {
                    "run_id": run_id,
                    "target": target,
                    "model": model_name,
                    "feature": name,
                    "importance": value,
                }
                for name, value in sorted(importance.items(), key=lambda item: -item[1])
            ]

    best = max(metrics_rows, key=lambda m: (m["cv_f1"], m["f1"]))
    best["is_best"] = True
    for frame in (rows, train_set, test_set):
        frame.unpersist()
    return metrics_rows, confusion_rows, importance_rows, None


def train_classifiers(spark: SparkSession, settings: Settings, *, seed: int = 42) -> ClassifierResult:
    """Train, evaluate and record the classifiers for both targets; returns the metrics written.

    Writes (appends, tagged with one run_id) ml.classifier_metrics, ml.classifier_confusion and
    ml.classifier_feature_importance. A target with too few customers or classes is skipped with a reason.
    """
    del settings  # tables are addressed through the session's catalog; kept for a uniform step signature
    trained_at = datetime.now(UTC).replace(tzinfo=None)
    run_id = f"clf-{trained_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    features = customer_features(spark).cache()
    result = ClassifierResult(run_id=run_id)
    confusion: list[dict[str, Any]] = []
    importances: list[dict[str, Any]] = []
    try:
        for target in TARGET_COLUMNS:
            metrics, cells, importance, skipped = _train_target(
                spark, features, target, run_id, trained_at, seed
            )
            if skipped:
                result.skipped[target] = skipped
                continue
            result.metrics += metrics
            confusion += cells
            importances += importance
    finally:
        features.unpersist()
    if not result.metrics:
        reasons = "; ".join(f"{t}: {r}" for t, r in result.skipped.items())
        raise SegmentationError(f"no classifier could be trained ({reasons})")
    ml_tables.ensure_tables(spark)
    append_rows(spark, "classifier_metrics", result.metrics)
    append_rows(spark, "classifier_confusion", confusion)
    append_rows(spark, "classifier_feature_importance", importances)
    return result
