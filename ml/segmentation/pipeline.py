"""`segmentation run`: the main job, in one process and one SparkSession.

1. ingest the data into raw.transactions (replacing what was there);
2. dbt build up to marts.customer_rfm (models, seeds and their tests);
3. train the clustering model and write the ml.* tables;
4. dbt build the marts that join the clusters (and the remaining marts);
   with `data_tests="after"`, steps 2 and 4 build without tests and all tests run once after step 4;
5. train the segment classifiers and build the HTML report (unless told not to);
then print a summary and write it as JSON under target/.

With the local target, dbt runs in-process (dbtRunner) and reuses this process's SparkSession. With the
thrift target, dbt goes through the Thrift server, and this process's session (ingest, ML) shares the
server's PostgreSQL metastore and warehouse folder.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from segmentation import ml_tables
from segmentation.calendar import CalendarOptions, check_against_data
from segmentation.config import Settings, shuffle_partitions_for
from segmentation.dbt import run_dbt
from segmentation.errors import SegmentationError

DEFAULT_SAMPLE = Path("data/sample/online_retail_sample.csv.gz")
# dbt's first stage builds what the ML step reads: the marts tagged ml_input (customer_rfm, its history and
# calendar) and everything upstream of them; the second stage builds the rest.
ML_INPUTS = "+tag:ml_input"
# gate: `dbt build`, so a failing test stops the run before later models and the ML step read bad data.
# after: models first, then every data and unit test once at the end; a failing test still fails the
# run, but after the tables were written. The benchmark uses it to time transforms and tests apart.
DATA_TEST_MODES = ("gate", "after")
WITHOUT_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


@dataclass
class PipelineOptions:
    data: list[Path] | Path | None = None  # files or folders; several are one shop's history
    k: int | None = None
    algorithm: str = "kmeans"
    k_rule: str | None = None
    seed: int = 42
    encoding: str = "utf-8"
    as_of_date: str | None = None
    build_report: bool = True
    data_tests: str = "gate"
    history: CalendarOptions = field(default_factory=CalendarOptions)


@dataclass
class RunSummary:
    target: str
    data: list[str]
    started_at: str
    row_fates: dict[str, int] = field(default_factory=dict)
    customers: int = 0
    total_monetary: float = 0.0
    rfm_segments: dict[str, int] = field(default_factory=dict)
    clustering: dict[str, Any] = field(default_factory=dict)
    cluster_sizes: dict[str, int] = field(default_factory=dict)
    timings_seconds: dict[str, float] = field(default_factory=dict)
    dbt_node_seconds: dict[str, float] = field(default_factory=dict)
    shuffle_partitions: int | None = None
    report_path: str | None = None
    clv: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        fates = ", ".join(f"{name} {count:,}" for name, count in sorted(self.row_fates.items()))
        segments = ", ".join(f"{name} {count:,}" for name, count in self.rfm_segments.items())
        clusters = ", ".join(f"{name} {count:,}" for name, count in self.cluster_sizes.items())
        timings = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in self.timings_seconds.items())
        cluster_info = self.clustering
        return "\n".join(
            [
                f"rows: {fates}",
                f"customers: {self.customers:,} (total monetary {self.total_monetary:,.2f})",
                f"RFM segments: {segments}",
                f"clusters: k={cluster_info.get('k')} {cluster_info.get('algorithm')} "
                f"silhouette={cluster_info.get('silhouette')}: {clusters}",
                f"timings: {timings}",
            ]
        )


class _Steps:
    """Times each step and shows progress, so long runs say where they are."""

    def __init__(self, summary: RunSummary, echo: Callable[[str], None]) -> None:
        self.summary = summary
        self.echo = echo

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        self.echo(f"==> {name} ...")
        start = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - start
        self.summary.timings_seconds[name] = round(elapsed, 2)
        self.echo(f"    {name} done in {elapsed:.1f}s")
        return result


def resolve_data(settings: Settings, data: list[Path] | Path | None) -> list[Path]:
    if data is None or data == []:
        given = [settings.project_dir / DEFAULT_SAMPLE]
    else:
        given = [data] if isinstance(data, str | Path) else list(data)
    return [Path(path).expanduser().resolve() for path in given]


def check_as_of_date(value: str | None) -> None:
    """SPEC 7's YYYY-MM-DD, and a real date, checked before anything runs (dbt only sees it much later)."""
    if value is None:
        return
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise SegmentationError(f"--as-of-date must be YYYY-MM-DD, got {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise SegmentationError(f"--as-of-date {value} is not a calendar date") from None


def run_pipeline(
    settings: Settings,
    options: PipelineOptions,
    *,
    spark: SparkSession | None = None,
    echo: Callable[[str], None] = print,
) -> RunSummary:
    from segmentation.lock import command_line, writer_lock

    with writer_lock(settings.for_target(settings.target).run_dir, command_line()):
        return _run_pipeline(settings, options, spark=spark, echo=echo)


def _run_pipeline(
    settings: Settings,
    options: PipelineOptions,
    *,
    spark: SparkSession | None,
    echo: Callable[[str], None],
) -> RunSummary:
    from segmentation.clustering import ClusteringConfig, train_clusters
    from segmentation.clv import run_clv
    from segmentation.ingest import discover_inputs, ingest_files
    from segmentation.spark import build_session
    from segmentation.warehouse import recover_interrupted_run

    # Validate the options and the inputs' existence before Spark starts and before any table is touched.
    require(options.data_tests in DATA_TEST_MODES, f"data_tests must be one of {DATA_TEST_MODES}")
    check_as_of_date(options.as_of_date)
    options.history.validate(options.as_of_date)
    clustering_config = ClusteringConfig(
        algorithm=options.algorithm, k=options.k, k_rule=options.k_rule, seed=options.seed
    ).validate()
    paths = resolve_data(settings, options.data)
    discover_inputs(paths)
    summary = RunSummary(
        target=settings.target, data=[str(p) for p in paths], started_at=datetime.now(UTC).isoformat()
    )
    steps = _Steps(summary, echo)
    total_start = time.perf_counter()

    if settings.target == "thrift":
        from segmentation.service.thrift import ensure_thrift_for_pipeline

        settings = ensure_thrift_for_pipeline(settings, echo=echo)

    if spark is None:
        spark = steps.run("spark session", lambda: build_session(settings, "segmentation-run"))
    dbt_vars = {**({"as_of_date": options.as_of_date} if options.as_of_date else {}), **options.history.dbt_vars()}
    recover_interrupted_run(spark, settings, echo)  # a killed run's half-written table would block this one

    ingested = steps.run(
        "ingest",
        lambda: ingest_files(
            spark,
            paths,
            encoding=options.encoding,
            replace_all=True,
            before_commit=check_against_data(options.history, options.as_of_date),
        ),
    )
    echo("    " + ingested.describe())
    if settings.shuffle_partitions is None:
        # Sized from the input; dbt (session target) gets it through profiles.yml, see run_dbt. The Thrift
        # server keeps the count it was started with.
        settings = replace(settings, shuffle_partitions=shuffle_partitions_for(ingested.total_rows))
        spark.conf.set("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        echo(f"    shuffle partitions: {settings.shuffle_partitions} (for {ingested.total_rows:,} raw rows)")
    if settings.target == "thrift":
        # The Thrift server caches file listings per table; make it see the freshly written partitions.
        from segmentation.service.thrift import refresh_pipeline_tables

        refresh_pipeline_tables(settings, ["raw.transactions"])

    gated = options.data_tests == "gate"
    verb, build_args = ("build", []) if gated else ("run", WITHOUT_TESTS)
    first = steps.run(
        f"dbt {verb} (to customer_rfm)",
        lambda: run_dbt(
            settings,
            ["build", "--select", ML_INPUTS, "--indirect-selection", "cautious", *build_args],
            vars_=dbt_vars,
        ),
    )
    if settings.target == "thrift":
        for table in ("marts.customer_rfm", "marts.customer_rfm_history", "marts.history_calendar"):
            spark.catalog.refreshTable(table)
    train_result = steps.run("train clusters", lambda: train_clusters(spark, settings, clustering_config))
    echo("    " + train_result.describe().replace("\n", "\n    "))
    clv_result = steps.run("customer lifetime value", lambda: run_clv(spark))
    echo("    " + clv_result.describe().replace("\n", "\n    "))
    summary.clv = clv_figures(clv_result)
    if settings.target == "thrift":
        from segmentation.service.thrift import refresh_pipeline_tables

        refresh_pipeline_tables(settings, [f"ml.{table}" for table in ml_tables.schemas()])
    second = steps.run(
        f"dbt {verb} (cluster marts)",
        lambda: run_dbt(settings, ["build", "--exclude", ML_INPUTS, *build_args], vars_=dbt_vars),
    )
    summary.dbt_node_seconds = {**first.node_timings, **second.node_timings}
    if not gated:
        tests = steps.run("dbt test", lambda: run_dbt(settings, ["test"], vars_=dbt_vars))
        summary.dbt_node_seconds.update(tests.node_timings)

    # Read back: with the session target dbt applies profiles.yml's count to this session on every statement.
    summary.shuffle_partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
    if settings.target == "thrift":
        for table in ("staging.stg_online_retail__transaction_lines", "marts.customer_rfm", "marts.dim_customers"):
            spark.catalog.refreshTable(table)
    _collect_figures(spark, summary, train_result)

    if options.build_report:
        from segmentation.classifier import train_classifiers
        from segmentation.clustering.compare import compare_algorithms
        from segmentation.report import build_report

        # The report compares the three algorithms at the chosen k (ml.algorithm_comparison).
        comparison = steps.run(
            "algorithm comparison",
            lambda: compare_algorithms(spark, settings, k=train_result.k, seed=options.seed),
        )
        echo("    " + comparison.describe().replace("\n", "\n    "))

        # The report shows the segment classifiers' cross-validated metrics, so they are trained first.
        classifier = steps.run("segment classifiers", lambda: train_classifiers(spark, settings, seed=options.seed))
        echo("    " + classifier.describe().replace("\n", "\n    "))
        report_path = steps.run("report", lambda: build_report(spark, settings))
        summary.report_path = str(report_path)

    summary.timings_seconds["total"] = round(time.perf_counter() - total_start, 2)
    _write_summary(settings, summary)
    echo(summary.describe())
    return summary


def _collect_figures(spark: SparkSession, summary: RunSummary, train_result: Any) -> None:
    """Small aggregates only: a handful of rows come back to the driver."""
    summary.row_fates = {
        row["row_fate"]: row["rows"]
        for row in spark.sql(
            "select row_fate, count(*) as rows from staging.stg_online_retail__transaction_lines group by row_fate"
        ).collect()
    }
    totals = spark.sql(
        "select count(*) as customers, cast(coalesce(sum(monetary), 0) as double) as total from marts.customer_rfm"
    ).first()
    summary.customers = int(totals["customers"])
    summary.total_monetary = float(totals["total"])
    summary.rfm_segments = {
        row["rfm_segment"]: row["customers"]
        for row in spark.sql(
            "select rfm_segment, count(*) as customers from marts.customer_rfm "
            "group by rfm_segment order by customers desc, rfm_segment"
        ).collect()
    }
    summary.cluster_sizes = {
        row["cluster_name"]: row["customers"]
        for row in spark.sql(
            "select cluster_name, count(*) as customers from marts.dim_customers "
            "where cluster_name is not null group by cluster_name order by customers desc, cluster_name"
        ).collect()
    }
    summary.clustering = {
        "run_id": train_result.run_id,
        "algorithm": train_result.algorithm,
        "k": train_result.k,
        "silhouette": None if train_result.silhouette is None else round(float(train_result.silhouette), 4),
    }


def clv_figures(result: Any) -> dict[str, Any]:
    """The CLV step's figures for run_summary.json."""
    return {
        "run_id": result.run_id,
        "customers": result.customers,
        "total_clv_12m": round(result.total_clv_12m, 2),
        "at_boundary": result.at_boundary,
        "bg_nbd": result.bgnbd.params,
        "gamma_gamma": result.gamma_gamma.params,
        "backtest": {m.method: asdict(m) for m in result.backtest},
    }


def _write_summary(settings: Settings, summary: RunSummary) -> Path:
    # SEGMENTATION_SUMMARY_PATH: runs in other processes (tests, cluster runs) sharing this project's
    # target/ folder each write their own summary instead of overwriting one another's.
    override = os.environ.get("SEGMENTATION_SUMMARY_PATH")
    path = Path(override) if override else settings.target_dir / "run_summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(summary), indent=2, default=str))
    return path


def require(condition: bool, message: str) -> None:
    if not condition:
        raise SegmentationError(message)
