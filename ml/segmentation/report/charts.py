"""One function per chart. Each reads one mart (report/data.py) and draws it as a plotly figure, or raises
Unavailable when its source table is missing or empty. No chart computes a figure: the marts do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from pyspark.sql import SparkSession

from segmentation.report.data import Unavailable, read

QUALITY = "marts.data_quality_summary"
CHECKS = "marts.cancellation_assumption_checks"
BOXES = "marts.report_distribution_boxes"
RF_GRID = "marts.report_rf_grid"
SUMMARY = "marts.segment_summary"
COUNTRIES = "marts.report_countries"
PRODUCTS = "marts.product_performance"
MODEL_SELECTION = "marts.report_model_selection"
COMPARISON = "marts.report_algorithm_comparison"
CENTROIDS = "marts.report_cluster_centroids"
CLF_RESULTS = "marts.report_classifier_results"
CLF_CONFUSION = "marts.report_classifier_confusion"
CLF_IMPORTANCE = "marts.report_classifier_importance"
HISTORY = "marts.segment_history_summary"
TRANSITIONS = "marts.report_latest_transitions"
P_ALIVE = "marts.report_p_alive_by_segment"
CLV_BACKTEST = "marts.report_clv_backtest"
LAPSED_SEGMENTS = ("At Risk", "Lost", "Churned")  # where the report looks for the biggest flows
# Classifier features as a marketer reads them (columns of marts.customer_features).
FEATURE_LABELS = {
    "main_country": "country",
    "log_first_order_lines": "lines in the first order",
    "log_first_order_units": "units in the first order",
    "log_first_order_value": "value of the first order",
    "log_distinct_products": "different products bought",
    "avg_basket_lines": "lines per order",
    "log_avg_basket_units": "units per order",
    "tenure_days": "days since the first purchase",
    "non_merchandise_share": "share of postage and fee lines",
    "cancellation_rate": "share of orders cancelled",
}

TOP_N = 15
ACCENT = "#d62728"


@dataclass(frozen=True)
class Chart:
    chart_id: str
    section: str
    title: str
    source: str  # the tables a BI user can query for the same numbers
    build: Callable[[SparkSession], go.Figure]


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title=title, height=height, template="plotly_white", margin=dict(l=60, r=30, t=70, b=60)
    )
    return fig


def _section(spark: SparkSession, section: str, what: str) -> pd.DataFrame:
    frame = read(spark, QUALITY, what, where=f"section = '{section}'")
    return frame.sort_values(["row_count", "metric"], ascending=[False, True])


def _log_axis(fig: go.Figure, **where: int) -> None:
    """A log axis labelled at powers of ten only (plotly's default repeats minor labels such as 2 and 5)."""
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", **where)


# --- EDA ---------------------------------------------------------------------------------------------


def missing_by_column(spark: SparkSession) -> go.Figure:
    frame = _section(spark, "raw_missing", "Missing values")
    frame = frame.sort_values("share", ascending=False)
    fig = go.Figure(
        go.Bar(
            x=frame["metric"],
            y=frame["share"] * 100,
            text=[f"{v:.2f}%" for v in frame["share"] * 100],
            textposition="outside",
            marker_color="#1f77b4",
        )
    )
    fig.update_yaxes(title="missing (% of raw rows)")
    return _layout(fig, "Missing values per raw column")


def _box(spark: SparkSession, measure: str, label: str) -> go.Figure:
    stats = read(spark, BOXES, f"{label} distribution", where=f"measure_name = '{measure}'").iloc[0]
    fig = go.Figure(
        go.Box(
            name=label,
            x=[label],
            q1=[stats["q1"]],
            median=[stats["median"]],
            q3=[stats["q3"]],
            lowerfence=[stats["lower_whisker"]],
            upperfence=[stats["upper_whisker"]],
            boxpoints=False,
            marker_color="#1f77b4",
        )
    )
    for name, value, dash in (
        ("lower IQR fence", stats["lower_fence"], "dash"),
        ("upper IQR fence", stats["upper_fence"], "dash"),
    ):
        fig.add_hline(y=value, line_dash=dash, line_color=ACCENT, annotation_text=f"{name} {value:,.2f}")
    # Extremes would flatten the box; show them as text instead of stretching the axis.
    span = stats["upper_fence"] - stats["lower_fence"]
    fig.update_yaxes(
        range=[stats["lower_fence"] - 0.15 * span, stats["upper_fence"] + 0.25 * span], title=label
    )
    fig.add_annotation(
        xref="paper",
        yref="paper",
        x=1,
        y=-0.12,
        showarrow=False,
        align="right",
        text=(
            f"{int(stats['line_count']):,} lines; min {stats['min_value']:,.2f}, max {stats['max_value']:,.2f}; "
            f"{int(stats['outside_lines']):,} lines "
            f"({stats['outside_lines'] / stats['line_count']:.1%}) outside the fences"
        ),
    )
    return _layout(fig, f"{label}: box plot with IQR fences (merchandise purchase lines)")


def quantity_box(spark: SparkSession) -> go.Figure:
    return _box(spark, "quantity", "Quantity")


def unit_price_box(spark: SparkSession) -> go.Figure:
    return _box(spark, "effective_unit_price", "UnitPrice (effective)")


def line_kinds_and_rejects(spark: SparkSession) -> go.Figure:
    kinds = _section(spark, "line_kind", "Line kinds")
    fates = _section(spark, "row_fate", "Row fates")
    try:
        reasons = _section(spark, "reject_reason", "Reject reasons")
    except Unavailable:
        reasons = None
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=("Kept lines by kind", "Raw rows by fate", "Rejects by reason")
    )
    fig.add_trace(
        go.Bar(x=kinds["metric"], y=kinds["row_count"], name="line kind", marker_color="#1f77b4"), 1, 1
    )
    fig.add_trace(
        go.Bar(x=fates["metric"], y=fates["row_count"], name="row fate", marker_color="#2ca02c"), 1, 2
    )
    if reasons is None:
        # No rejects: say so where the bars would be, instead of an empty axis.
        fig.add_trace(go.Bar(x=["no rejected rows"], y=[0], marker_color=ACCENT), 1, 3)
        fig.add_annotation(text="every raw row could be typed", xref="x3 domain", yref="y3 domain",
                           x=0.5, y=0.5, showarrow=False)
        fig.update_yaxes(showticklabels=False, row=1, col=3)
    else:
        fig.add_trace(
            go.Bar(x=reasons["metric"], y=reasons["row_count"], name="reject reason", marker_color=ACCENT), 1, 3
        )
    _log_axis(fig, row=1, col=1)
    fig.update_yaxes(title="rows (log scale)", row=1, col=1)
    _log_axis(fig, row=1, col=2)
    fig.update_layout(showlegend=False)
    return _layout(fig, "Line kinds, row fates and rejects", height=460)


def cancellation_matching(spark: SparkSession) -> go.Figure:
    matching = _section(spark, "cancellation_matching", "Cancellation matching")
    checks = read(spark, CHECKS, "Cancellation assumption checks").sort_values("check_name")
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Cancellation lines by matching outcome", "Assumption checks (% matching)"),
    )
    fig.add_trace(go.Bar(x=matching["metric"], y=matching["row_count"], marker_color="#9467bd"), 1, 1)
    highlight = {"exact_counterpart", "independence"}
    fig.add_trace(
        go.Bar(
            y=checks["check_name"],
            x=checks["matching_pct"],
            orientation="h",
            text=[
                f"{p:.1f}% of {int(t):,} {u}"
                for p, t, u in zip(checks["matching_pct"], checks["total_count"], checks["unit"], strict=True)
            ],
            textposition="auto",
            marker_color=[ACCENT if name in highlight else "#7f7f7f" for name in checks["check_name"]],
        ),
        1,
        2,
    )
    fig.update_xaxes(range=[0, 100], title="%", row=1, col=2)
    fig.update_layout(showlegend=False)
    return _layout(fig, "Cancellation matching and the two assumption checks (red)", height=460)


def customers_by_country(spark: SparkSession) -> go.Figure:
    frame = read(spark, COUNTRIES, "Customers by country", where=f"revenue_rank <= {TOP_N}").sort_values(
        "revenue_rank"
    )
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Customers", "Revenue (monetary)"))
    fig.add_trace(go.Bar(x=frame["country"], y=frame["customers"], marker_color="#1f77b4"), 1, 1)
    fig.add_trace(go.Bar(x=frame["country"], y=frame["revenue"], marker_color="#ff7f0e"), 1, 2)
    _log_axis(fig)
    fig.update_yaxes(title="log scale", row=1, col=1)
    fig.update_layout(showlegend=False)
    return _layout(fig, f"Customers and revenue by main country (top {TOP_N} by revenue)", height=480)


def top_products(spark: SparkSession) -> go.Figure:
    frame = read(spark, PRODUCTS, "Top products", where=f"revenue_rank <= {TOP_N}").sort_values(
        "revenue_rank", ascending=False
    )
    frame["description"] = frame["description"].fillna(frame["stock_code"])
    frame["net_revenue"] = frame["net_revenue"].astype(float)
    fig = go.Figure(
        go.Bar(
            y=[f"{d[:40]} ({s})" for d, s in zip(frame["description"], frame["stock_code"], strict=True)],
            x=frame["net_revenue"],
            orientation="h",
            customdata=frame["customers"],
            hovertemplate="%{y}<br>net revenue %{x:,.2f}<br>%{customdata} customers<extra></extra>",
            marker_color="#17becf",
        )
    )
    fig.update_xaxes(title="net revenue")
    return _layout(fig, f"Top {TOP_N} products by net revenue", height=520)


# --- Model selection -----------------------------------------------------------------------------------


def k_sweep(spark: SparkSession) -> go.Figure:
    frame = read(spark, MODEL_SELECTION, "k sweep").sort_values("k")
    run_id = frame["run_id"].iloc[0]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Elbow: training cost", "Silhouette"))
    fig.add_trace(go.Scatter(x=frame["k"], y=frame["cost"], mode="lines+markers", name="cost"), 1, 1)
    fig.add_trace(
        go.Scatter(x=frame["k"], y=frame["silhouette"], mode="lines+markers", name="silhouette"), 1, 2
    )
    chosen = frame[frame["is_chosen"].fillna(False).astype(bool)]
    for _, row in chosen.iterrows():
        fig.add_trace(
            go.Scatter(
                x=[row["k"]],
                y=[row["cost"]],
                mode="markers",
                marker=dict(size=16, color=ACCENT, symbol="star"),
                name=f"chosen k={row['k']}",
            ),
            1,
            1,
        )
        fig.add_trace(
            go.Scatter(
                x=[row["k"]],
                y=[row["silhouette"]],
                mode="markers",
                marker=dict(size=16, color=ACCENT, symbol="star"),
                showlegend=False,
            ),
            1,
            2,
        )
    fig.update_xaxes(title="k", dtick=1)
    algorithm, rule = frame["algorithm"].iloc[0], frame["k_rule"].iloc[0]
    return _layout(fig, f"Choosing k ({algorithm}, rule: {rule}, run {run_id}); the star marks the chosen k")


def algorithm_comparison(spark: SparkSession) -> go.Figure:
    frame = read(spark, COMPARISON, "Algorithm comparison (run `segmentation compare`)").sort_values(
        "silhouette", ascending=False
    )
    fig = go.Figure(
        go.Bar(
            x=frame["algorithm"],
            y=frame["silhouette"],
            text=[f"{s:.3f} (k={k})" for s, k in zip(frame["silhouette"], frame["k"], strict=True)],
            textposition="outside",
            marker_color="#8c564b",
        )
    )
    fig.update_yaxes(title="silhouette")
    return _layout(fig, "Algorithm comparison at the same k (silhouette, higher is better)")


# --- Segments ------------------------------------------------------------------------------------------


def _segment_shares(spark: SparkSession, kind: str, what: str) -> go.Figure:
    frame = read(spark, SUMMARY, what, where=f"segment_kind = '{kind}'").sort_values(
        ["revenue_share", "segment"], ascending=[False, True]
    )
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=frame["segment"],
            y=frame["customer_share"] * 100,
            name="share of customers",
            text=[f"{int(c):,}" for c in frame["customers"]],
            textposition="outside",
        )
    )
    fig.add_trace(
        go.Bar(x=frame["segment"], y=frame["revenue_share"].fillna(0) * 100, name="share of revenue")
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="%")
    return _layout(fig, f"{what}: customers (count on the bar) and revenue share", height=460)


def rfm_segment_sizes(spark: SparkSession) -> go.Figure:
    return _segment_shares(spark, "rfm_segment", "RFM segments")


def cluster_sizes(spark: SparkSession) -> go.Figure:
    return _segment_shares(spark, "cluster", "Clusters")


def centroid_profile(spark: SparkSession) -> go.Figure:
    frame = read(spark, CENTROIDS, "Centroid profile").sort_values("cluster_id")
    # Colour by how good the value is: a low recency (a recent purchase) is good, like a high frequency.
    frame["scaled_recency"] = -frame["scaled_recency"]
    columns = [
        ("recency_days", "scaled_recency", "Recency (days)"),
        ("frequency", "scaled_frequency", "Frequency (orders)"),
        ("monetary", "scaled_monetary", "Monetary"),
    ]
    # Colour by the standardised value (comparable across columns), label with the original units.
    fig = go.Figure(
        go.Heatmap(
            z=frame[[scaled for _, scaled, _ in columns]].to_numpy(),
            x=[label for _, _, label in columns],
            y=[
                f"{n} (#{i}, {int(c):,} customers)"
                for n, i, c in zip(
                    frame["cluster_name"], frame["cluster_id"], frame["customers"], strict=True
                )
            ],
            text=[[f"{v:,.1f}" for v in row] for row in frame[[raw for raw, _, _ in columns]].to_numpy()],
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            colorbar=dict(title="better →", tickvals=[], ticktext=[]),
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(
        fig,
        "Cluster centroids in original units (blue: better than average, recent and often and much; red: worse)",
        height=380 + 30 * len(frame),
    )


def rf_grid(spark: SparkSession) -> go.Figure:
    frame = read(spark, RF_GRID, "R-by-F grid")
    grid = frame.pivot(index="f_score", columns="r_score", values="avg_monetary").reindex(
        index=range(1, 6), columns=range(1, 6)
    )
    counts = frame.pivot(index="f_score", columns="r_score", values="customers").reindex(
        index=range(1, 6), columns=range(1, 6)
    )
    text = [
        [("" if pd.isna(m) else f"{m:,.0f}<br>n={int(n)}") for m, n in zip(mrow, nrow, strict=True)]
        for mrow, nrow in zip(grid.to_numpy(), counts.to_numpy(), strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=[f"R={r}" for r in grid.columns],
            y=[f"F={f}" for f in grid.index],
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            colorbar=dict(title="avg monetary"),
        )
    )
    return _layout(fig, "Average monetary by recency score (x) and frequency score (y)", height=480)


def recommended_actions(spark: SparkSession) -> go.Figure:
    frame = read(spark, SUMMARY, "Recommended actions").sort_values(
        ["segment_kind", "revenue_share", "segment"], ascending=[False, False, True]
    )
    frame["revenue_pct"] = (frame["revenue_share"].astype(float) * 100).round(1)
    frame["recommended_action"] = frame["recommended_action"].fillna("(no action defined)")
    fig = go.Figure(
        go.Table(
            columnwidth=[80, 120, 70, 70, 420],
            header=dict(
                values=["kind", "segment", "customers", "revenue %", "recommended action"],
                fill_color="#dfe7f2",
                align="left",
            ),
            cells=dict(
                values=[
                    frame[c]
                    for c in ("segment_kind", "segment", "customers", "revenue_pct", "recommended_action")
                ],
                align="left",
                height=26,
            ),
        )
    )
    return _layout(fig, "Recommended action per segment", height=140 + 30 * len(frame))


# --- Classifier ----------------------------------------------------------------------------------------


def classifier_metrics_frame(spark: SparkSession) -> pd.DataFrame:
    return read(spark, CLF_RESULTS, "Classifier (run `segmentation classify`)").sort_values(["target", "model"])


def classifier_metrics(spark: SparkSession) -> go.Figure:
    frame = classifier_metrics_frame(spark)
    targets = list(dict.fromkeys(frame["target"]))
    fig = make_subplots(rows=1, cols=len(targets), subplot_titles=[f"target: {t}" for t in targets])
    measures = ("accuracy", "weighted_precision", "weighted_recall", "f1")
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
    for col, target in enumerate(targets, start=1):
        rows = frame[frame["target"] == target]
        for measure, colour in zip(measures, colours, strict=True):
            fig.add_trace(
                go.Bar(
                    x=rows["model"],
                    y=rows[measure],
                    name=measure,
                    marker_color=colour,
                    showlegend=col == 1,
                    legendgroup=measure,
                ),
                1,
                col,
            )
        baseline = float(rows["baseline_accuracy"].iloc[0])
        fig.add_hline(
            y=baseline,
            line_dash="dash",
            line_color=ACCENT,
            row=1,
            col=col,
            annotation_text=f"majority baseline accuracy {baseline:.2f}",
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1.05])
    return _layout(fig, "Held-out test scores vs the majority-class baseline", height=460)


def classifier_confusion(spark: SparkSession) -> go.Figure:
    frame = read(spark, CLF_CONFUSION, "Confusion matrices")
    targets = sorted(frame["target"].unique())
    titles = [f"{t} ({frame[frame['target'] == t]['model'].iloc[0]})" for t in targets]
    fig = make_subplots(rows=1, cols=len(targets), subplot_titles=titles, horizontal_spacing=0.2)
    for col, target in enumerate(targets, start=1):
        cells = frame[frame["target"] == target]
        labels = sorted(set(cells["actual"]) | set(cells["predicted"]))
        matrix = (
            cells.pivot_table(index="actual", columns="predicted", values="customers", aggfunc="sum")
            .reindex(index=labels, columns=labels)
            .fillna(0)
        )
        fig.add_trace(
            go.Heatmap(
                z=matrix.to_numpy(),
                x=labels,
                y=labels,
                text=matrix.to_numpy().astype(int),
                texttemplate="%{text}",
                colorscale="Blues",
                showscale=False,
            ),
            1,
            col,
        )
        fig.update_xaxes(title="predicted", row=1, col=col)
        fig.update_yaxes(title="actual", autorange="reversed", row=1, col=col)
    return _layout(fig, "Confusion matrices of the best model per target (test split)", height=560)


def classifier_importance(spark: SparkSession) -> go.Figure:
    frame = read(spark, CLF_IMPORTANCE, "Feature importances").sort_values(["target", "importance"])
    frame["feature"] = frame["feature"].map(lambda name: FEATURE_LABELS.get(name, name))
    targets = sorted(frame["target"].unique())
    fig = make_subplots(
        rows=1, cols=len(targets), subplot_titles=[f"target: {t}" for t in targets], horizontal_spacing=0.25
    )
    for col, target in enumerate(targets, start=1):
        rows = frame[frame["target"] == target]
        fig.add_trace(
            go.Bar(y=rows["feature"], x=rows["importance"], orientation="h", marker_color="#bcbd22"), 1, col
        )
    fig.update_layout(showlegend=False)
    return _layout(fig, "Decision tree feature importances", height=460)


# --- Over time ---------------------------------------------------------------------------------------


def _history_shares(spark: SparkSession, kind: str, what: str) -> go.Figure:
    frame = read(spark, HISTORY, what, where=f"segment_kind = '{kind}'").sort_values(["as_of_date", "segment"])
    fig = go.Figure()
    for segment, rows in frame.groupby("segment", sort=True):
        fig.add_trace(
            go.Scatter(
                x=rows["as_of_date"],
                y=rows["customer_share"].astype(float) * 100,
                mode="lines",
                stackgroup="one",
                name=segment,
                customdata=rows["customers"],
                hovertemplate=f"{segment}<br>%{{x}}: %{{y:.1f}}% (%{{customdata}} customers)<extra></extra>",
            )
        )
    fig.update_yaxes(title="% of the date's customers", range=[0, 100])
    fig.update_xaxes(title="as-of date")
    return _layout(fig, f"{what}: share of customers at each date", height=460)


def rfm_history(spark: SparkSession) -> go.Figure:
    return _history_shares(spark, "rfm", "RFM segments over time")


def cluster_history(spark: SparkSession) -> go.Figure:
    return _history_shares(spark, "cluster", "Clusters over time")


def transition_matrix(spark: SparkSession) -> go.Figure:
    frame = read(spark, TRANSITIONS, "Transition matrix")
    kinds = [k for k in ("rfm", "cluster") if k in set(frame["segment_kind"])]
    titles = [f"{'RFM segments' if k == 'rfm' else 'clusters'}" for k in kinds]
    fig = make_subplots(rows=len(kinds), cols=1, subplot_titles=titles, vertical_spacing=0.12)
    for row, kind in enumerate(kinds, start=1):
        cells = frame[frame["segment_kind"] == kind]
        to_segments = sorted(set(cells["to_segment"]))
        from_segments = ["New to file", *sorted(set(cells["from_segment"]) - {"New to file"})]
        from_segments = [s for s in from_segments if s in set(cells["from_segment"])]
        counts = cells.pivot_table(index="from_segment", columns="to_segment", values="customers", aggfunc="sum")
        counts = counts.reindex(index=from_segments, columns=to_segments).fillna(0)
        shares = counts.div(counts.sum(axis=1), axis=0) * 100
        text = [[f"{int(n):,}<br>{p:.0f}%" if n else "" for n, p in zip(nrow, prow, strict=True)]
                for nrow, prow in zip(counts.to_numpy(), shares.to_numpy(), strict=True)]
        fig.add_trace(
            go.Heatmap(z=shares.to_numpy(), x=to_segments, y=from_segments, text=text, texttemplate="%{text}",
                       colorscale="Blues", showscale=False, zmin=0, zmax=100),
            row,
            1,
        )
        fig.update_yaxes(title="from", autorange="reversed", row=row, col=1)
        fig.update_xaxes(title="to", row=row, col=1)
    first = frame.iloc[0]
    return _layout(
        fig,
        f"Who moved where between {first['from_date']} and {first['to_date']} (customers and % of the row)",
        height=520 * len(kinds),
    )


def flows_into_lapsed(spark: SparkSession) -> go.Figure:
    frame = read(spark, TRANSITIONS, "Flows into lapsed segments")
    moves = frame[frame["to_segment"].isin(LAPSED_SEGMENTS) & (frame["from_segment"] != frame["to_segment"])]
    if moves.empty:
        raise Unavailable("Flows into lapsed segments: not available (no customer moved into At Risk, Lost or "
                          "Churned between the last two dates)")
    top = moves.sort_values("customers", ascending=False).head(TOP_N).iloc[::-1]
    labels = [f"{f} → {t} ({'RFM' if k == 'rfm' else 'cluster'})"
              for f, t, k in zip(top["from_segment"], top["to_segment"], top["segment_kind"], strict=True)]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=top["customers"],
            orientation="h",
            customdata=top["from_monetary"].astype(float),
            hovertemplate="%{y}<br>%{x} customers, monetary %{customdata:,.2f} before<extra></extra>",
            marker_color=ACCENT,
        )
    )
    fig.update_xaxes(title="customers")
    first = frame.iloc[0]
    return _layout(
        fig,
        f"The biggest moves into {', '.join(LAPSED_SEGMENTS)} between {first['from_date']} and {first['to_date']}",
        height=160 + 32 * len(top),
    )


# --- Customer value --------------------------------------------------------------------------------------


def clv_calibration(spark: SparkSession) -> go.Figure:
    frame = read(spark, CLV_BACKTEST, "Backtest calibration").sort_values(["method", "frequency_repeat"])
    model = frame[frame["method"] == "bg_nbd"]
    baseline = frame[frame["method"] == "baseline"]
    ticks = [f"{int(f)}+" if f >= 7 else str(int(f)) for f in model["frequency_repeat"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ticks, y=model["actual_mean"], mode="lines+markers", name="actual",
                             line=dict(color="#222")))
    fig.add_trace(go.Scatter(x=ticks, y=model["predicted_mean"], mode="lines+markers", name="BG/NBD predicted",
                             line=dict(color=ACCENT)))
    fig.add_trace(go.Scatter(x=ticks, y=baseline["predicted_mean"], mode="lines+markers",
                             name="baseline (frequency / T)", line=dict(color="#7f7f7f", dash="dash")))
    first = model.iloc[0]
    fig.update_xaxes(title=f"repeat purchase days before {first['calibration_date']}")
    fig.update_yaxes(title=f"mean purchase days, {first['calibration_date']} to {first['holdout_end']}")
    return _layout(fig, "Backtest: predicted against actual purchases in the holdout, by past frequency")


def clv_backtest_scores(spark: SparkSession) -> go.Figure:
    frame = read(spark, CLV_BACKTEST, "Backtest scores").drop_duplicates("method").set_index("method")
    measures = [("mae", "mean absolute error (lower is better)"), ("spearman", "Spearman (higher is better)"),
                ("top10_capture", "top-10% capture (higher is better)")]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[label for _, label in measures])
    for col, (measure, _) in enumerate(measures, start=1):
        fig.add_trace(
            go.Bar(x=["BG/NBD", "baseline"], y=[frame.loc["bg_nbd", measure], frame.loc["baseline", measure]],
                   text=[f"{frame.loc[m, measure]:.3f}" for m in ("bg_nbd", "baseline")],
                   textposition="outside", marker_color=[ACCENT, "#7f7f7f"]),
            1,
            col,
        )
    fig.update_layout(showlegend=False)
    return _layout(fig, f"Backtest on {int(frame['customers'].iloc[0]):,} customers: model against baseline")


def p_alive_by_segment(spark: SparkSession) -> go.Figure:
    frame = read(spark, P_ALIVE, "P(alive) by RFM segment").sort_values("median_p_alive")
    fig = go.Figure(
        go.Box(
            name="P(alive)",
            x=frame["rfm_segment"],
            q1=frame["q1_p_alive"],
            median=frame["median_p_alive"],
            q3=frame["q3_p_alive"],
            lowerfence=frame["min_p_alive"],
            upperfence=frame["max_p_alive"],
            mean=frame["mean_p_alive"],
            boxpoints=False,
            marker_color="#2ca02c",
        )
    )
    fig.update_yaxes(title="probability the customer is still active", range=[0, 1.02])
    return _layout(fig, "P(alive) per RFM segment (BG/NBD at the as-of date)", height=460)


def expected_value(spark: SparkSession) -> go.Figure:
    frame = read(spark, SUMMARY, "Expected value", where="clv_12m is not null")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("RFM segments", "Clusters"))
    for col, kind in enumerate(("rfm_segment", "cluster"), start=1):
        rows = frame[frame["segment_kind"] == kind].sort_values("clv_12m", ascending=False)
        fig.add_trace(
            go.Bar(x=rows["segment"], y=rows["clv_12m"].astype(float), marker_color="#17becf",
                   customdata=rows["avg_clv_12m"].astype(float),
                   hovertemplate="%{x}<br>12-month value %{y:,.0f}<br>per customer %{customdata:,.2f}<extra></extra>"),
            1,
            col,
        )
    fig.update_yaxes(title="expected value, next 12 months", row=1, col=1)
    fig.update_layout(showlegend=False)
    return _layout(fig, "Expected 12-month value per segment and cluster (BG/NBD x Gamma-Gamma)", height=460)


CHARTS: tuple[Chart, ...] = (
    Chart("missing_by_column", "Data quality (EDA)", "Missing values per column", QUALITY, missing_by_column),
    Chart("quantity_box", "Data quality (EDA)", "Quantity distribution", BOXES, quantity_box),
    Chart("unit_price_box", "Data quality (EDA)", "UnitPrice distribution", BOXES, unit_price_box),
    Chart("line_kinds_rejects", "Data quality (EDA)", "Line kinds and rejects", QUALITY, line_kinds_and_rejects),
    Chart("cancellation_matching", "Data quality (EDA)", "Cancellation matching", f"{QUALITY}, {CHECKS}",
          cancellation_matching),
    Chart("customers_by_country", "Data quality (EDA)", "Customers and revenue by country", COUNTRIES,
          customers_by_country),
    Chart("top_products", "Data quality (EDA)", "Top products", PRODUCTS, top_products),
    Chart("k_sweep", "Model selection", "Elbow and silhouette against k", MODEL_SELECTION, k_sweep),
    Chart("algorithm_comparison", "Model selection", "Algorithm comparison", COMPARISON, algorithm_comparison),
    Chart("rfm_segment_sizes", "Segments", "RFM segments", SUMMARY, rfm_segment_sizes),
    Chart("cluster_sizes", "Segments", "Clusters", SUMMARY, cluster_sizes),
    Chart("centroid_profile", "Segments", "Centroid profile", CENTROIDS, centroid_profile),
    Chart("rf_grid", "Segments", "R-by-F grid of average M", RF_GRID, rf_grid),
    Chart("recommended_actions", "Segments", "Recommended actions", SUMMARY, recommended_actions),
    Chart("rfm_history", "Over time", "RFM segments over time", HISTORY, rfm_history),
    Chart("cluster_history", "Over time", "Clusters over time", HISTORY, cluster_history),
    Chart("transition_matrix", "Over time", "Transition matrix", TRANSITIONS, transition_matrix),
    Chart("flows_into_lapsed", "Over time", "Flows into lapsed segments", TRANSITIONS, flows_into_lapsed),
    Chart("expected_value", "Customer value", "Expected 12-month value", SUMMARY, expected_value),
    Chart("p_alive_by_segment", "Customer value", "P(alive) per segment", P_ALIVE, p_alive_by_segment),
    Chart("clv_calibration", "Customer value", "Backtest calibration", CLV_BACKTEST, clv_calibration),
    Chart("clv_backtest_scores", "Customer value", "Backtest scores", CLV_BACKTEST, clv_backtest_scores),
    Chart("classifier_metrics", "Segment classifier", "Classifier scores", CLF_RESULTS, classifier_metrics),
    Chart("classifier_confusion", "Segment classifier", "Confusion matrices", CLF_CONFUSION, classifier_confusion),
    Chart("classifier_importance", "Segment classifier", "Feature importances", CLF_IMPORTANCE,
          classifier_importance),
)
CHART_IDS: tuple[str, ...] = tuple(chart.chart_id for chart in CHARTS)
