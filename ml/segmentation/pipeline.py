"""`segmentation run`: the main job, in one process and one SparkSession.

1. ingest the data into raw.transactions (replacing what was there, atomically);
2. dbt build of what the ML step reads (`+tag:ml_input`: customer_rfm, its history and calendar, the CLV
   summary, and their models and tests);
3. the ML step: train the clusters (and assign them across the history), fit and backtest customer
   lifetime value;
4. dbt build of the rest (the marts that join the ML tables);
   with `data_tests="after"`, steps 2 and 4 build without tests and all tests run once after step 4;
5. compare the clustering algorithms, train the segment classifiers and build the HTML report (unless
   told not to: the report is their only reader);
then print a summary, where the results are, and write the summary as JSON under target/.

With the local target, dbt runs in-process (dbtRunner) and reuses this process's SparkSession. With the
thrift target, dbt goes through the Thrift server, and this process's session (ingest, ML) shares the
server's PostgreSQL metastore and warehouse folder (`<home>/service`).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segmentation import ml_tables
from segmentation.calendar import CalendarOptions, check_against_data
from segmentation.config import Settings, shuffle_partitions_for
from segmentation.dbt import run_dbt
from segmentation.errors import SegmentationError

DEFAULT_SAMPLE = Path("data/sample/online_retail_sample.csv.gz")
# dbt's first stage builds what the ML step reads: the marts tagged ml_input and everything upstream of
# them; the second stage builds the rest.
ML_INPUTS = "+tag:ml_input"
ML_INPUT_MARTS = ("customer_rfm", "customer_rfm_history", "history_calendar", "customer_clv_summary")
# gate: `dbt build`, so a failing test stops the run before later models and the ML step read bad data.
# after: models first, then every data and unit test once at the end; a failing test still fails the
# run, but after the tables were written. The benchmark uses it to time transforms and tests apart.
DATA_TEST_MODES = ("gate", "after")
WITHOUT_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
HEARTBEAT_SECONDS = 10.0
REPORT_ONLY_STEPS = ("algorithm comparison", "segment classifiers", "report")


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
    duplicates_of_another_file: int = 0
    customers: int = 0
    total_monetary: float = 0.0
    rfm_segments: dict[str, int] = field(default_factory=dict)
    clustering: dict[str, Any] = field(default_factory=dict)
    cluster_sizes: dict[str, int] = field(default_factory=dict)
    history_dates: int = 0
    clv: dict[str, Any] = field(default_factory=dict)
    timings_seconds: dict[str, float] = field(default_factory=dict)
    dbt_node_seconds: dict[str, float] = field(default_factory=dict)
    shuffle_partitions: int | None = None
    report_path: str | None = None
    summary_path: str | None = None

    def describe(self) -> str:
        fates = ", ".join(f"{name} {count:,}" for name, count in sorted(self.row_fates.items()))
        if len(self.data) > 1:
            fates += f" ({self.duplicates_of_another_file:,} of the duplicates repeat a line of another file)"
        segments = ", ".join(f"{name} {count:,}" for name, count in self.rfm_segments.items())
        clusters = ", ".join(f"{name} {count:,}" for name, count in self.cluster_sizes.items())
        timings = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in self.timings_seconds.items())
        cluster_info = self.clustering
        lines = [
            f"rows: {fates}",
            f"customers: {self.customers:,} (total monetary {self.total_monetary:,.2f})",
            f"RFM segments: {segments}",
            f"clusters: k={cluster_info.get('k')} {cluster_info.get('algorithm')} "
            f"silhouette={cluster_info.get('silhouette')}: {clusters}",
            f"history: {self.history_dates} as-of dates (marts.customer_segment_history, marts.segment_transitions)",
        ]
        if self.clv:
            lines.append(
                f"customer value: 12-month CLV {self.clv['total_clv_12m']:,.2f} over {self.clv['customers']:,} "
                f"customers{' (BG/NBD at a parameter bound: see above)' if self.clv['at_boundary'] else ''}"
            )
        lines.append(f"timings: {timings}")
        return "\n".join(lines)

    def where_things_are(self, project_dir: Path) -> str:
        """The run's last lines: where the results are and one query to try."""
        lines = []
        if self.report_path:
            lines.append(f"report:  {self.report_path}")
        if self.summary_path:
            lines.append(f"summary: {self.summary_path}")
        target = "" if self.target == "local" else " --target thrift"
        lines.append(
            f'try:     cd {project_dir} && .venv/bin/dbt show --profiles-dir .{target} --inline '
            '"select segment_kind, segment, customers, clv_12m from marts.segment_summary"'
        )
        if self.target == "local":
            lines.append("BI:      segmentation thrift start   (publishes these marts to the Thrift server)")
        return "\n".join(lines)


class _Steps:
    """Times each step and says what is going on, at least every HEARTBEAT_SECONDS, so long steps are
    never silent."""

    def __init__(self, summary: RunSummary, echo: Callable[[str], None]) -> None:
        self.summary = summary
        self.echo = echo

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        self.echo(f"==> {name} ...")
        start = time.perf_counter()
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                self.echo(f"    ... {name}: still working ({time.perf_counter() - start:.0f}s)")

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            result = action()
        finally:
            done.set()
            beat.join()
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

    with writer_lock(settings.run_dir, command_line()):
        return _Run(settings, options, echo).execute(spark)


class _Run:
    """One run's steps, in order; each is a method, timed by _Steps."""

    def __init__(self, settings: Settings, options: PipelineOptions, echo: Callable[[str], None]) -> None:
        from segmentation.clustering import ClusteringConfig
        from segmentation.ingest import discover_inputs

        # Validate the options and the inputs before Spark starts and before any table is touched.
        if options.data_tests not in DATA_TEST_MODES:
            raise SegmentationError(f"data_tests must be one of {DATA_TEST_MODES}")
        check_as_of_date(options.as_of_date)
        options.history.validate(options.as_of_date)
        self.clustering = ClusteringConfig(
            algorithm=options.algorithm, k=options.k, k_rule=options.k_rule, seed=options.seed
        ).validate()
        self.paths = resolve_data(settings, options.data)
        discover_inputs(self.paths)
        self.settings, self.options, self.echo = settings, options, echo
        self.summary = RunSummary(
            target=settings.target, data=[str(p) for p in self.paths], started_at=datetime.now(UTC).isoformat()
        )
        self.steps = _Steps(self.summary, echo)
        self.dbt_vars = {
            **({"as_of_date": options.as_of_date} if options.as_of_date else {}),
            **options.history.dbt_vars(),
        }
        gated = options.data_tests == "gate"
        self.verb, self.build_args = ("build", []) if gated else ("run", WITHOUT_TESTS)

    def execute(self, spark: SparkSession | None) -> RunSummary:
        from segmentation.spark import build_session
        from segmentation.warehouse import recover_interrupted_run

        started = time.perf_counter()
        if self.settings.target == "thrift":
            from segmentation.service.thrift import ensure_thrift_for_pipeline

            self.settings = ensure_thrift_for_pipeline(self.settings, echo=self.echo)
        if spark is None:
            spark = self.steps.run("spark session", lambda: build_session(self.settings, "segmentation-run"))
        self.spark = spark
        recover_interrupted_run(spark, self.settings, self.echo)  # a killed run's leftovers would block this one

        self.steps.run("ingest", self.ingest)
        first = self.steps.run(f"dbt {self.verb} (to customer_rfm)", self.build_ml_inputs)
        train = self.steps.run("train clusters", self.train_clusters)
        self.steps.run("customer lifetime value", self.customer_value)
        second = self.steps.run(f"dbt {self.verb} (cluster marts)", self.build_the_rest)
        self.summary.dbt_node_seconds = {**first.node_timings, **second.node_timings}
        if self.options.data_tests == "after":
            tests = self.steps.run("dbt test", lambda: run_dbt(self.settings, ["test"], vars_=self.dbt_vars))
            self.summary.dbt_node_seconds.update(tests.node_timings)
        self.collect_figures(train)
        if self.options.build_report:
            self.steps.run("algorithm comparison", lambda: self.compare(train.k))
            self.steps.run("segment classifiers", self.classify)
            self.summary.report_path = str(self.steps.run("report", self.report))
        else:
            self.echo(f"==> skipped (--no-report): {', '.join(REPORT_ONLY_STEPS)}")
        self.summary.timings_seconds["total"] = round(time.perf_counter() - started, 2)
        self.summary.summary_path = str(_write_summary(self.settings, self.summary))
        self.echo(self.summary.describe())
        self.echo(self.summary.where_things_are(self.settings.project_dir))
        return self.summary

    # ------------------------------------------------------------------------------------------ steps

    def ingest(self) -> None:
        from segmentation.ingest import ingest_files

        ingested = ingest_files(
            self.spark,
            self.paths,
            encoding=self.options.encoding,
            replace_all=True,
            before_commit=check_against_data(self.options.history, self.options.as_of_date),
        )
        self.echo("    " + ingested.describe().replace("\n", "\n    "))
        if self.settings.shuffle_partitions is None:
            # Sized from the input; dbt (session target) gets it through profiles.yml, see run_dbt. The Thrift
            # server keeps the count it was started with.
            self.settings = replace(self.settings, shuffle_partitions=shuffle_partitions_for(ingested.total_rows))
            self.spark.conf.set("spark.sql.shuffle.partitions", str(self.settings.shuffle_partitions))
            self.echo(
                f"    shuffle partitions: {self.settings.shuffle_partitions} (for {ingested.total_rows:,} raw rows)"
            )
        self._refresh_for_thrift(["raw.transactions"])

    def build_ml_inputs(self) -> Any:
        step = run_dbt(
            self.settings,
            ["build", "--select", ML_INPUTS, "--indirect-selection", "cautious", *self.build_args],
            vars_=self.dbt_vars,
        )
        if self.settings.target == "thrift":
            for table in ML_INPUT_MARTS:  # this session caches listings too
                self.spark.catalog.refreshTable(f"marts.{table}")
        return step

    def train_clusters(self) -> Any:
        from segmentation.clustering import train_clusters

        result = train_clusters(self.spark, self.settings, self.clustering)
        self.echo("    " + result.describe().replace("\n", "\n    "))
        return result

    def customer_value(self) -> Any:
        from segmentation.clv import run_clv

        result = run_clv(self.spark)
        self.echo("    " + result.describe().replace("\n", "\n    "))
        self.summary.clv = clv_figures(result)
        self._refresh_for_thrift([f"ml.{table}" for table in ml_tables.schemas()])
        return result

    def build_the_rest(self) -> Any:
        return run_dbt(self.settings, ["build", "--exclude", ML_INPUTS, *self.build_args], vars_=self.dbt_vars)

    def compare(self, k: int) -> None:
        from segmentation.clustering.compare import compare_algorithms

        result = compare_algorithms(self.spark, self.settings, k=k, seed=self.options.seed)
        self.echo("    " + result.describe().replace("\n", "\n    "))

    def classify(self) -> None:
        from segmentation.classifier import train_classifiers

        result = train_classifiers(self.spark, self.settings, seed=self.options.seed)
        self.echo("    " + result.describe().replace("\n", "\n    "))

    def report(self) -> Path:
        from segmentation.report import build_report

        self._refresh_for_thrift([f"ml.{table}" for table in ml_tables.schemas()])
        return build_report(self.spark, self.settings)

    def _refresh_for_thrift(self, tables: list[str]) -> None:
        """The Thrift server caches file listings per table; make it see what this session rewrote."""
        if self.settings.target == "thrift":
            from segmentation.service.thrift import refresh_pipeline_tables

            refresh_pipeline_tables(self.settings, tables)

    def collect_figures(self, train: Any) -> None:
        """Small aggregates of the marts only: a few rows come back to the driver."""
        spark, summary = self.spark, self.summary
        if self.settings.target == "thrift":
            for table in ("staging.stg_online_retail__transaction_lines", "marts.data_quality_summary",
                          "marts.customer_rfm", "marts.segment_summary", "marts.history_calendar"):
                spark.catalog.refreshTable(table)
        # Read back: with the session target dbt applies profiles.yml's count to this session on every statement.
        summary.shuffle_partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
        quality = spark.table("marts.data_quality_summary").where(F.col("section").isin("row_fate", "duplicates"))
        for row in quality.collect():
            if row["section"] == "row_fate":
                summary.row_fates[row["metric"]] = int(row["row_count"])
            else:
                summary.duplicates_of_another_file = int(row["row_count"])
        totals = spark.table("marts.customer_rfm").agg(
            F.count(F.lit(1)).alias("customers"), F.sum("monetary").cast("double").alias("total")
        ).first()
        summary.customers = int(totals["customers"])
        summary.total_monetary = float(totals["total"] or 0.0)
        segments = spark.table("marts.segment_summary").select("segment_kind", "segment", "customers").collect()
        ordered = sorted(segments, key=lambda r: (-r["customers"], r["segment"]))
        by_kind: dict[str, dict[str, int]] = {"rfm_segment": {}, "cluster": {}}
        for r in ordered:
            by_kind[r["segment_kind"]][r["segment"]] = int(r["customers"])
        summary.rfm_segments, summary.cluster_sizes = by_kind["rfm_segment"], by_kind["cluster"]
        summary.history_dates = spark.table("marts.history_calendar").count()
        summary.clustering = {
            "run_id": train.run_id,
            "algorithm": train.algorithm,
            "k": train.k,
            "k_rule": train.k_rule,
            "silhouette": None if train.silhouette is None else round(float(train.silhouette), 4),
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
    summary.summary_path = str(path)
    path.write_text(json.dumps(asdict(summary), indent=2, default=str))
    return path
