"""One function per chart. Each reads small aggregates from the warehouse and returns a plotly figure, or
raises Unavailable when its source table is missing or empty."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from pyspark.sql import SparkSession

from segmentation.report.data import Unavailable, latest_cluster_run, latest_run, query, sql_string

QUALITY = "marts.data_quality_summary"
CHECKS = "marts.cancellation_assumption_checks"
LINES = "marts.fct_order_lines"
RFM = "marts.customer_rfm"
SUMMARY = "marts.segment_summary"
COUNTRY = "marts.segment_by_country"
PRODUCTS = "marts.product_performance"
FENCES = "intermediate.int_outlier_fences"
K_SWEEP = "ml.k_sweep"
COMPARISON = "ml.algorithm_comparison"
CENTROIDS = "ml.cluster_centroids"
CLF_METRICS = "ml.classifier_metrics"
CLF_CONFUSION = "ml.classifier_confusion"
CLF_IMPORTANCE = "ml.classifier_feature_importance"

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
    return query(
        spark,
        f"select metric, row_count, share, metric_value from {QUALITY} where section = {sql_string(section)} "
        "order by row_count desc, metric",
        tables=(QUALITY,),
        what=what,
    )


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


def _box(spark: SparkSession, measure: str, column: str, label: str) -> go.Figure:
    # Box statistics by exact SQL percentiles over the same lines the fences use (merchandise purchases in
    # the window); only one row comes back, never the lines themselves.
    stats = query(
        spark,
        f"""
        with lines as (
            select cast({column} as double) as value from {LINES}
            where is_merchandise_purchase and is_in_window
        ),
        fences as (select lower_fence, upper_fence from {FENCES} where measure_name = {sql_string(measure)})
        select
            min(value) as min_value,
            percentile(value, 0.25) as q1,
            percentile(value, 0.5) as median,
            percentile(value, 0.75) as q3,
            max(value) as max_value,
            min(case when value >= fences.lower_fence then value end) as lower_whisker,
            max(case when value <= fences.upper_fence then value end) as upper_whisker,
            count_if(value < fences.lower_fence or value > fences.upper_fence) as outside_lines,
            count(*) as lines,
            max(fences.lower_fence) as lower_fence,
            max(fences.upper_fence) as upper_fence
        from lines cross join fences
        """,
        tables=(LINES, FENCES),
        what=f"{label} distribution",
    ).iloc[0]
    if not stats["lines"]:
        raise Unavailable(f"{label} distribution: not available (no merchandise purchase lines)")
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
            f"{int(stats['lines']):,} lines; min {stats['min_value']:,.2f}, max {stats['max_value']:,.2f}; "
            f"{int(stats['outside_lines']):,} lines "
            f"({stats['outside_lines'] / stats['lines']:.1%}) outside the fences"
        ),
    )
    return _layout(fig, f"{label}: box plot with IQR fences (merchandise purchase lines)")


def quantity_box(spark: SparkSession) -> go.Figure:
    return _box(spark, "quantity", "quantity", "Quantity")


def unit_price_box(spark: SparkSession) -> go.Figure:
    return _box(spark, "effective_unit_price", "effective_unit_price", "UnitPrice (effective)")


def line_kinds_and_rejects(spark: SparkSession) -> go.Figure:
    kinds = _section(spark, "line_kind", "Line kinds")
    fates = _section(spark, "row_fate", "Row fates")
    try:
        reasons = _section(spark, "reject_reason", "Reject reasons")
    except Unavailable:
        reasons = pd.DataFrame({"metric": ["(none)"], "row_count": [0]})
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=("Kept lines by kind", "Raw rows by fate", "Rejects by reason")
    )
    fig.add_trace(
        go.Bar(x=kinds["metric"], y=kinds["row_count"], name="line kind", marker_color="#1f77b4"), 1, 1
    )
    fig.add_trace(
        go.Bar(x=fates["metric"], y=fates["row_count"], name="row fate", marker_color="#2ca02c"), 1, 2
    )
    fig.add_trace(
        go.Bar(x=reasons["metric"], y=reasons["row_count"], name="reject reason", marker_color=ACCENT), 1, 3
    )
    fig.update_yaxes(type="log", title="rows (log scale)", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(showlegend=False)
    return _layout(fig, "Line kinds, row fates and rejects", height=460)


def cancellation_matching(spark: SparkSession) -> go.Figure:
    matching = _section(spark, "cancellation_matching", "Cancellation matching")
    checks = query(
        spark,
        f"select check_name, unit, matching_count, total_count, matching_pct from {CHECKS} "
        "order by check_name",
        tables=(CHECKS,),
        what="Cancellation assumption checks",
    )
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
    frame = query(
        spark,
        f"""
        select country, sum(customers) as customers, cast(sum(revenue) as double) as revenue
        from {COUNTRY} where segment_kind = 'rfm_segment'
        group by country order by revenue desc, country limit {TOP_N}
        """,
        tables=(COUNTRY,),
        what="Customers by country",
    )
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Customers", "Revenue (monetary)"))
    fig.add_trace(go.Bar(x=frame["country"], y=frame["customers"], marker_color="#1f77b4"), 1, 1)
    fig.add_trace(go.Bar(x=frame["country"], y=frame["revenue"], marker_color="#ff7f0e"), 1, 2)
    fig.update_yaxes(type="log", title="log scale")
    fig.update_layout(showlegend=False)
    return _layout(fig, f"Customers and revenue by main country (top {TOP_N} by revenue)", height=480)


def top_products(spark: SparkSession) -> go.Figure:
    frame = query(
        spark,
        f"""
        select stock_code, coalesce(description, stock_code) as description,
               cast(net_revenue as double) as net_revenue, customers
        from {PRODUCTS} order by revenue_rank limit {TOP_N}
        """,
        tables=(PRODUCTS,),
        what="Top products",
    ).iloc[::-1]
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
    run_id = latest_cluster_run(spark)
    if run_id is None:
        raise Unavailable("k sweep: not available (no clustering run yet)")
    frame = query(
        spark,
        f"select k, cost, silhouette, is_chosen, algorithm from {K_SWEEP} "
        f"where run_id = {sql_string(run_id)} order by k",
        tables=(K_SWEEP,),
        what="k sweep",
    )
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
    algorithm = frame["algorithm"].iloc[0]
    return _layout(fig, f"Choosing k ({algorithm}, run {run_id}); the star marks the chosen k")


def algorithm_comparison(spark: SparkSession) -> go.Figure:
    run_id = latest_run(spark, COMPARISON, "compared_at")
    if run_id is None:
        raise Unavailable(
            "Algorithm comparison: not available (run `segmentation compare` to fill ml.algorithm_comparison)"
        )
    frame = query(
        spark,
        f"select algorithm, k, silhouette from {COMPARISON} "
        f"where run_id = {sql_string(run_id)} order by silhouette desc",
        tables=(COMPARISON,),
        what="Algorithm comparison",
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
    frame = query(
        spark,
        f"""
        select segment, customers, customer_share, revenue_share
        from {SUMMARY} where segment_kind = {sql_string(kind)}
        order by revenue_share desc, segment
        """,
        tables=(SUMMARY,),
        what=what,
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
    run_id = latest_cluster_run(spark)
    if run_id is None:
        raise Unavailable("Centroid profile: not available (no clustering run yet)")
    frame = query(
        spark,
        f"""
        select cluster_id, cluster_name, customers, recency_days, frequency, monetary,
               scaled_recency, scaled_frequency, scaled_monetary
        from {CENTROIDS} where run_id = {sql_string(run_id)} order by cluster_id
        """,
        tables=(CENTROIDS,),
        what="Centroid profile",
    )
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
            reversescale=True,
            zmid=0,
            colorbar=dict(title="standardised"),
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(
        fig,
        "Cluster centroids in original units (colour: standardised log value)",
        height=380 + 30 * len(frame),
    )


def rf_grid(spark: SparkSession) -> go.Figure:
    frame = query(
        spark,
        f"""
        select r_score, f_score, count(*) as customers, cast(avg(monetary) as double) as avg_monetary
        from {RFM} group by r_score, f_score
        """,
        tables=(RFM,),
        what="R-by-F grid",
    )
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
    frame = query(
        spark,
        f"""
        select segment_kind, segment, customers, round(revenue_share * 100, 1) as revenue_pct,
               coalesce(recommended_action, '(no action defined)') as recommended_action
        from {SUMMARY} order by segment_kind desc, revenue_share desc, segment
        """,
        tables=(SUMMARY,),
        what="Recommended actions",
    )
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


def classifier_run(spark: SparkSession) -> str:
    run_id = latest_run(spark, CLF_METRICS, "trained_at")
    if run_id is None:
        raise Unavailable("Classifier: not available (run `segmentation classify` to train it)")
    return run_id


def classifier_metrics_frame(spark: SparkSession) -> pd.DataFrame:
    run_id = classifier_run(spark)
    return query(
        spark,
        f"""
        select target, model, accuracy, weighted_precision, weighted_recall, f1,
               baseline_accuracy, baseline_f1,
               cv_f1, train_customers, test_customers, classes, is_best, params
        from {CLF_METRICS} where run_id = {sql_string(run_id)} order by target, model
        """,
        tables=(CLF_METRICS,),
        what="Classifier metrics",
    )


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
    run_id = classifier_run(spark)
    frame = query(
        spark,
        f"""
        select c.target, c.model, c.actual, c.predicted, c.count
        from {CLF_CONFUSION} as c
        inner join {CLF_METRICS} as m
            on c.run_id = m.run_id and c.target = m.target and c.model = m.model and m.is_best
        where c.run_id = {sql_string(run_id)}
        """,
        tables=(CLF_CONFUSION, CLF_METRICS),
        what="Confusion matrices",
    )
    targets = sorted(frame["target"].unique())
    titles = [f"{t} ({frame[frame['target'] == t]['model'].iloc[0]})" for t in targets]
    fig = make_subplots(rows=1, cols=len(targets), subplot_titles=titles, horizontal_spacing=0.2)
    for col, target in enumerate(targets, start=1):
        cells = frame[frame["target"] == target]
        labels = sorted(set(cells["actual"]) | set(cells["predicted"]))
        matrix = (
            cells.pivot_table(index="actual", columns="predicted", values="count", aggfunc="sum")
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
    run_id = classifier_run(spark)
    frame = query(
        spark,
        f"""
        select target, feature, importance from {CLF_IMPORTANCE}
        where run_id = {sql_string(run_id)} and model = 'decision_tree' order by target, importance
        """,
        tables=(CLF_IMPORTANCE,),
        what="Feature importances",
    )
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


CHARTS: tuple[Chart, ...] = (
    Chart("missing_by_column", "Data quality (EDA)", "Missing values per column", QUALITY, missing_by_column),
    Chart("quantity_box", "Data quality (EDA)", "Quantity distribution", f"{LINES}, {FENCES}", quantity_box),
    Chart(
        "unit_price_box", "Data quality (EDA)", "UnitPrice distribution", f"{LINES}, {FENCES}", unit_price_box
    ),
    Chart(
        "line_kinds_rejects", "Data quality (EDA)", "Line kinds and rejects", QUALITY, line_kinds_and_rejects
    ),
    Chart(
        "cancellation_matching",
        "Data quality (EDA)",
        "Cancellation matching",
        f"{QUALITY}, {CHECKS}",
        cancellation_matching,
    ),
    Chart(
        "customers_by_country",
        "Data quality (EDA)",
        "Customers and revenue by country",
        COUNTRY,
        customers_by_country,
    ),
    Chart("top_products", "Data quality (EDA)", "Top products", PRODUCTS, top_products),
    Chart("k_sweep", "Model selection", "Elbow and silhouette against k", K_SWEEP, k_sweep),
    Chart(
        "algorithm_comparison", "Model selection", "Algorithm comparison", COMPARISON, algorithm_comparison
    ),
    Chart("rfm_segment_sizes", "Segments", "RFM segments", SUMMARY, rfm_segment_sizes),
    Chart("cluster_sizes", "Segments", "Clusters", SUMMARY, cluster_sizes),
    Chart("centroid_profile", "Segments", "Centroid profile", CENTROIDS, centroid_profile),
    Chart("rf_grid", "Segments", "R-by-F grid of average M", RFM, rf_grid),
    Chart("recommended_actions", "Segments", "Recommended actions", SUMMARY, recommended_actions),
    Chart("classifier_metrics", "Segment classifier", "Classifier scores", CLF_METRICS, classifier_metrics),
    Chart(
        "classifier_confusion",
        "Segment classifier",
        "Confusion matrices",
        f"{CLF_CONFUSION}, {CLF_METRICS}",
        classifier_confusion,
    ),
    Chart(
        "classifier_importance",
        "Segment classifier",
        "Feature importances",
        CLF_IMPORTANCE,
        classifier_importance,
    ),
)
CHART_IDS: tuple[str, ...] = tuple(chart.chart_id for chart in CHARTS)
