"""`build_report`: query each chart's aggregates, then write report.html and the PNG copies."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession

from segmentation.config import Settings
from segmentation.report.charts import CHARTS, classifier_metrics_frame
from segmentation.report.data import Unavailable, read
from segmentation.report.render import PngExporter, RenderedChart, render_html

log = logging.getLogger(__name__)
REPORT_FILE = "report.html"


def build_report(spark: SparkSession, settings: Settings, out_dir: Path | None = None) -> Path:
    """Write `report.html` and `<chart_id>.png` for every available chart into out_dir (default
    target/report); returns the HTML path. Charts whose tables are missing or empty say so in the page."""
    out = Path(out_dir) if out_dir is not None else settings.target_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    rendered: list[RenderedChart] = []
    for chart in CHARTS:
        try:
            figure, reason = chart.build(spark), None
        except Unavailable as exc:
            figure, reason = None, str(exc)
        rendered.append(
            RenderedChart(chart.chart_id, chart.section, chart.title, chart.source, figure, reason)
        )

    notes = {"Segment classifier": classifier_summary_html(spark), "Customer value": clv_summary_html(spark)}
    page = render_html(
        rendered, title="Customer segmentation report", intro_html=_intro_html(spark), section_notes=notes
    )
    path = out / REPORT_FILE
    path.write_text(page, encoding="utf-8")

    # Stale PNGs of charts that are unavailable this time would contradict the HTML: remove them.
    for chart in rendered:
        (out / f"{chart.chart_id}.png").unlink(missing_ok=True)
    exporter = PngExporter()
    for chart in rendered:
        if chart.figure is not None:
            exporter.write(chart.figure, out / f"{chart.chart_id}.png")
    return path


def _intro_html(spark: SparkSession) -> str:
    parts = [f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the warehouse tables."]
    try:
        overview = read(spark, "marts.report_overview", "Overview").iloc[0]
        parts.append(
            f"{int(overview['customers']):,} customers as of {overview['as_of_date']}, total monetary "
            f"{float(overview['total_monetary'] or 0):,.2f}, from {int(overview['raw_rows']):,} raw rows."
        )
    except Unavailable:
        pass
    parts.append("Every chart names the table(s) its numbers come from; hover a chart for exact values.")
    return f"<p>{html.escape(' '.join(parts))}</p>"


def classifier_summary_html(spark: SparkSession) -> str:
    """An honest, computed sentence per target: the best model against the majority-class baseline."""
    try:
        frame = classifier_metrics_frame(spark)
    except Unavailable as exc:
        return html.escape(str(exc))
    return "<br>".join(html.escape(sentence) for sentence in classifier_sentences(frame))


def clv_summary_html(spark: SparkSession) -> str:
    """The backtest's verdict in words: does the model beat the baseline, on which measures."""
    try:
        frame = read(spark, "marts.report_clv_backtest", "Backtest").drop_duplicates("method").set_index("method")
    except Unavailable as exc:
        return html.escape(str(exc))
    return html.escape(" ".join(clv_sentences(frame)))


def clv_sentences(frame: pd.DataFrame) -> list[str]:
    model, base = frame.loc["bg_nbd"], frame.loc["baseline"]
    better = [name for name, measure, lower_is_better in (
        ("mean absolute error", "mae", True), ("Spearman correlation", "spearman", False),
        ("top-10% capture", "top10_capture", False))
        if (model[measure] < base[measure]) == lower_is_better and model[measure] != base[measure]]
    verdict = (f"BG/NBD beats the baseline on {', '.join(better)}." if better
               else "BG/NBD does not beat the baseline on any of the three measures.")
    return [
        f"Fitted at {model['calibration_date']} on {int(model['customers']):,} customers and asked how many "
        f"purchase days each makes until {model['holdout_end']}: {verdict}",
        f"Actual {model['actual_purchases']:,.0f} purchase days; BG/NBD predicted {model['predicted_purchases']:,.0f} "
        f"(MAE {model['mae']:.3f}, Spearman {model['spearman']:.3f}, top-10% capture {model['top10_capture']:.1%}); "
        f"the baseline predicted {base['predicted_purchases']:,.0f} (MAE {base['mae']:.3f}, Spearman "
        f"{base['spearman']:.3f}, top-10% capture {base['top10_capture']:.1%}).",
    ]


def classifier_sentences(frame: pd.DataFrame) -> list[str]:
    sentences = []
    for target, rows in frame.groupby("target", sort=True):
        best = rows[rows["is_best"].astype(bool)]
        row = (best if not best.empty else rows.sort_values("f1", ascending=False)).iloc[0]
        gain = float(row["accuracy"]) - float(row["baseline_accuracy"])
        if gain < 0.05:
            verdict = (
                "barely better than (or no better than) guessing the most common class; do not rely on it"
            )
        elif gain < 0.15:
            verdict = "modestly better than the baseline"
        else:
            verdict = "clearly better than the baseline"
        sentences.append(
            f"Predicting {target} ({int(row['classes'])} classes) from non-RFM characteristics: "
            f"the best model by cross-validated F1 is {row['model']}, with accuracy {row['accuracy']:.1%} "
            f"on {int(row['test_customers']):,} held-out customers against "
            f"{row['baseline_accuracy']:.1%} for always predicting the most common class "
            f"({gain * 100:+.1f} points), and weighted F1 {row['f1']:.2f} against "
            f"{row['baseline_f1']:.2f}: {verdict}."
        )
    sentences.append(
        "The features exclude recency, frequency, monetary and their scores, but tenure and product variety "
        "are correlated with them, so part of the lift comes from that overlap."
    )
    return sentences
