"""The segment report, built from a warehouse made from the bundled sample.

`report_warehouse` only ensures the marts exist. When the clustering step is installed it runs the whole
pipeline (like test_pipeline's `pipeline_run`, which can replace it); without it, it runs ingest + dbt
build, so the ML charts take their "not available" path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

SAMPLE = Path("data/sample/online_retail_sample.csv.gz")


def ensure_report_warehouse(spark, settings) -> None:
    """Build the sample warehouse once per session (idempotent: skips when marts.dim_customers exists)."""
    if spark.catalog.tableExists("marts.dim_customers") and spark.table("marts.customer_rfm").count() > 0:
        return
    try:
        import segmentation.clustering  # noqa: F401
    except ImportError:
        from segmentation.dbt import run_dbt
        from segmentation.ingest import ingest_files

        ingest_files(spark, [settings.project_dir / SAMPLE], replace_all=True)
        # seed + run, not build: data tests belong to test_pipeline; a failing one should not hide the report.
        run_dbt(settings, ["seed"])
        run_dbt(settings, ["run"])
    else:
        from segmentation.pipeline import PipelineOptions, run_pipeline

        run_pipeline(settings, PipelineOptions(k=4, build_report=False), spark=spark)


def ensure_classifier_run(spark, settings):
    """Train the classifiers once per session (the report reads their tables)."""
    from segmentation.classifier import train_classifiers

    global _CLASSIFIER_RESULT
    if _CLASSIFIER_RESULT is None:
        _CLASSIFIER_RESULT = train_classifiers(spark, settings, seed=42)
    return _CLASSIFIER_RESULT


_CLASSIFIER_RESULT = None
_REPORT_PATH: Path | None = None


def ensure_report(spark, settings) -> Path:
    """Build the report once per session, in its default folder (target/report)."""
    from segmentation.report import build_report

    global _REPORT_PATH
    if _REPORT_PATH is None:
        ensure_report_warehouse(spark, settings)
        ensure_classifier_run(spark, settings)
        _REPORT_PATH = build_report(spark, settings)
    return _REPORT_PATH


@pytest.fixture(scope="module")
def built_report(spark, settings, pipeline_run):
    return ensure_report(spark, settings)


def _has_rows(spark, table: str) -> bool:
    return spark.catalog.tableExists(table) and spark.table(table).limit(1).count() > 0


def test_report_has_every_chart_and_a_png_per_rendered_chart(spark, built_report):
    from segmentation.report.charts import CHART_IDS

    page = built_report.read_text(encoding="utf-8")
    assert built_report.name == "report.html"
    rendered = set(re.findall(r'<div id="chart-([a-z_]+)" class="chart"', page))
    unavailable = set(re.findall(r'<div id="chart-([a-z_]+)" class="chart-unavailable"', page))
    assert rendered | unavailable == set(CHART_IDS)
    assert not rendered & unavailable
    # Charts over the marts and the classifier always have data on the sample.
    always = {
        "missing_by_column",
        "quantity_box",
        "unit_price_box",
        "line_kinds_rejects",
        "cancellation_matching",
        "customers_by_country",
        "top_products",
        "rfm_segment_sizes",
        "rf_grid",
        "recommended_actions",
        "classifier_metrics",
        "classifier_confusion",
        "classifier_importance",
    }
    assert always <= rendered, f"unavailable: {sorted(always & unavailable)}"
    # ML charts render exactly when their tables have rows.
    assert ("k_sweep" in rendered) == _has_rows(spark, "ml.k_sweep")
    assert ("centroid_profile" in rendered) == _has_rows(spark, "ml.cluster_centroids")
    assert ("algorithm_comparison" in rendered) == _has_rows(spark, "ml.algorithm_comparison")
    for chart_id in rendered:
        png = built_report.parent / f"{chart_id}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", chart_id
        assert png.stat().st_size > 5_000, f"{chart_id}.png looks blank"
    for chart_id in unavailable:
        assert not (built_report.parent / f"{chart_id}.png").exists()
        assert re.search(rf'id="chart-{chart_id}" class="chart-unavailable"[^>]*>.*not available', page)


def test_report_is_self_contained(built_report):
    page = built_report.read_text(encoding="utf-8")
    # plotly.js is inlined: no script or stylesheet is fetched from anywhere.
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=\"https?:", page)
    assert "Plotly.newPlot" in page and len(page) > 1_000_000


def test_report_numbers_match_the_warehouse(spark, built_report):
    page = built_report.read_text(encoding="utf-8")
    customers = spark.table("marts.customer_rfm").count()
    assert f"{customers:,} customers as of" in page
    best = spark.sql(
        "select target, accuracy, baseline_accuracy from ml.classifier_metrics where is_best and run_id = "
        "(select run_id from ml.classifier_metrics order by trained_at desc, run_id desc limit 1)"
    ).collect()
    assert best
    for row in best:
        assert f"accuracy {row['accuracy']:.1%}" in page
        assert f"against {row['baseline_accuracy']:.1%} for always predicting" in page


def test_report_default_folder_is_target_report(settings, built_report):
    assert built_report == settings.target_dir / "report" / "report.html"


def test_missing_table_is_reported_not_raised(spark):
    from segmentation.report.data import Unavailable, read

    with pytest.raises(Unavailable, match=r"Example: not available \(ml.no_such_table does not exist yet\)"):
        read(spark, "ml.no_such_table", "Example")


def test_classifier_sentences_are_honest_about_the_baseline():
    from segmentation.report.build import classifier_sentences

    frame = pd.DataFrame(
        [
            dict(
                target="cluster",
                model="decision_tree",
                accuracy=0.80,
                f1=0.79,
                baseline_accuracy=0.40,
                baseline_f1=0.23,
                classes=4,
                test_customers=100,
                is_best=True,
            ),
            dict(
                target="rfm_segment",
                model="logistic_regression",
                accuracy=0.31,
                f1=0.2,
                baseline_accuracy=0.30,
                baseline_f1=0.14,
                classes=10,
                test_customers=100,
                is_best=True,
            ),
        ]
    )
    cluster, rfm, caveat = classifier_sentences(frame)
    assert "accuracy 80.0%" in cluster and "40.0%" in cluster and "+40.0 points" in cluster
    assert "clearly better" in cluster
    assert "+1.0 points" in rfm and "do not rely on it" in rfm
    assert "tenure" in caveat


def test_backtest_verdict_names_what_the_model_wins_and_loses():
    from segmentation.report.build import clv_sentences

    common = dict(calibration_date="2011-09-11", holdout_end="2011-12-10", customers=5256, actual_purchases=4925)
    frame = pd.DataFrame([
        dict(method="bg_nbd", predicted_purchases=3726.2, mae=0.70, spearman=0.57, top10_capture=0.41, **common),
        dict(method="baseline", predicted_purchases=4073.2, mae=0.69, spearman=0.52, top10_capture=0.41, **common),
    ]).set_index("method")
    verdict, figures = clv_sentences(frame)
    # Better Spearman only: a worse MAE and an equal capture are not claimed.
    assert "beats the baseline on Spearman correlation." in verdict and "5,256 customers" in verdict
    assert "mean absolute error" not in verdict and "top-10%" not in verdict
    assert "Actual 4,925 purchase days; BG/NBD predicted 3,726" in figures
    frame.loc["bg_nbd", "spearman"] = 0.50
    assert "does not beat the baseline on any" in clv_sentences(frame)[0]
