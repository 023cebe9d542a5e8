"""Customer segmentation warehouse: turn transaction files into RFM segments, clusters and customer value,
and serve them to BI tools.

Start with `segmentation run` (the whole job on the bundled sample, or on your files with --data), then
open target/report/report.html, query the marts with `dbt show`, or serve them to BI tools with
`segmentation thrift start`.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from segmentation.errors import SegmentationError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, rich_markup_mode=None)
thrift_app = typer.Typer(
    no_args_is_help=True,
    help="The Spark Thrift Server that BI tools (beeline, Superset, Power BI, JDBC/ODBC) connect to.",
)
app.add_typer(thrift_app, name="thrift")


class Target(StrEnum):
    local = "local"
    thrift = "thrift"


class Algorithm(StrEnum):
    kmeans = "kmeans"
    bisecting_kmeans = "bisecting_kmeans"
    gaussian_mixture = "gaussian_mixture"


class DataTests(StrEnum):
    gate = "gate"
    after = "after"


class KRule(StrEnum):
    fixed = "fixed"
    silhouette = "silhouette"
    elbow = "elbow"


@app.callback()
def _private_files() -> None:
    # Everything a command creates (warehouse files, logs, models, reports) is readable by its owner only.
    os.umask(0o077)


def _settings(target: str | None = None, master: str | None = None):  # noqa: ANN202
    from segmentation.config import Settings

    return Settings.from_env(target=target, spark_master=master)


def _fail(message: str) -> None:
    # One line, whatever the message holds (file names from the user may carry newlines).
    typer.secho(f"error: {' '.join(message.split())}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _execute(settings: Any, command: str, action: Callable[[], Any], *, writes: bool) -> Any:
    """Run a command's action: writers hold the home's lock; a user error is one line; anything unexpected
    is one line too, with the full trace kept in <home>/run/last_error.log."""
    from segmentation.lock import command_line, holder, writer_lock

    try:
        if not writes and settings.target == "local" and (busy := holder(settings.run_dir)):
            raise SegmentationError(
                f"the local warehouse {settings.home} is open in another command, {busy}; its embedded catalog "
                "admits one process at a time (the Thrift server serves concurrent readers)"
            )
        with writer_lock(settings.run_dir, command_line()) if writes else nullcontext():
            return action()
    except SegmentationError as exc:
        _fail(str(exc))
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the trace goes to a file, the user gets one line
        log = settings.run_dir / "last_error.log"
        try:
            from segmentation.secrets import write_private

            write_private(log, traceback.format_exc())
        except OSError:
            log = None
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        _fail(f"{command} failed unexpectedly: {first} (details: {log or 'not written'})")


MasterOpt = Annotated[
    str | None,
    typer.Option("--master", help="Spark master URL, e.g. spark://host:7077 (default: $SEGMENTATION_SPARK_MASTER)"),
]


@app.command()
def run(
    data: Annotated[
        list[Path] | None,
        typer.Option(help="Input: a CSV, Parquet or .xlsx file, or a folder of them; repeat for several (default: "
                     "the bundled sample)"),
    ] = None,
    target: Annotated[Target, typer.Option(help="local: embedded Spark; thrift: build in the Thrift server's "
                                                "warehouse, for BI tools")] = Target.local,
    k: Annotated[int | None, typer.Option(help="Number of clusters, 2..50 (default: chosen by --k-rule)")] = None,
    algorithm: Annotated[Algorithm, typer.Option(help="Clustering algorithm")] = Algorithm.kmeans,
    k_rule: Annotated[KRule | None, typer.Option(help="How k is chosen without --k (default: elbow)")] = None,
    seed: Annotated[int, typer.Option(help="Random seed for clustering and classifiers")] = 42,
    encoding: Annotated[str, typer.Option(help="Encoding of the CSV files, e.g. ISO-8859-1")] = "utf-8",
    as_of_date: Annotated[str | None, typer.Option(help="RFM reference date YYYY-MM-DD (default: the day after "
                                                        "the last invoice)")] = None,
    history_dates: Annotated[str | None, typer.Option(help="Segment history dates, comma-separated YYYY-MM-DD "
                                                          "(default: the first of every month)")] = None,
    history_start: Annotated[
        str | None, typer.Option(help="Segment history from this date, every --history-step")
    ] = None,
    history_step: Annotated[str | None, typer.Option(help="week or month (with --history-start)")] = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Build the HTML report at the end; "
                                         "--no-report also skips the algorithm comparison and the classifiers, "
                                         "which only the report shows")] = True,
    data_tests: Annotated[
        DataTests,
        typer.Option(help="gate: a failing data test stops the run before later steps read bad data; after: "
                     "every test runs once at the end (what the benchmark times)"),
    ] = DataTests.gate,
    master: MasterOpt = None,
) -> None:
    """The whole job: load the files, build the RFM marts with dbt, train the clusters, build the marts that
    join them, then the report."""
    from segmentation.calendar import CalendarOptions
    from segmentation.pipeline import PipelineOptions, run_pipeline

    settings = _settings(target.value, master)
    dates = [d.strip() for d in history_dates.split(",")] if history_dates else []
    options = PipelineOptions(
        history=CalendarOptions(dates=dates, start=history_start, step=history_step),
        data=list(data) if data else None,
        k=k,
        algorithm=algorithm.value,
        k_rule=(k_rule.value if k_rule else None),
        seed=seed,
        encoding=encoding,
        as_of_date=as_of_date,
        build_report=report,
        data_tests=data_tests.value,
    )
    _execute(settings, "run", lambda: run_pipeline(settings, options), writes=True)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV, Parquet or .xlsx files, or folders of them")],
    encoding: Annotated[str, typer.Option(help="Encoding of the CSV files, e.g. ISO-8859-1")] = "utf-8",
    replace_all: Annotated[bool, typer.Option(help="Keep only these files in raw.transactions")] = False,
    master: MasterOpt = None,
) -> None:
    """Load files into raw.transactions without rebuilding anything. Loading a file again replaces its rows.
    Then `segmentation score` (or `segmentation run`) rebuilds the marts from them."""
    from segmentation.ingest import discover_inputs, ingest_files
    from segmentation.spark import build_session
    from segmentation.warehouse import recover_interrupted_run

    settings = _settings(master=master)

    def action() -> None:
        discover_inputs(paths)  # a missing file fails before Spark starts
        spark = build_session(settings, "segmentation-ingest")
        recover_interrupted_run(spark, settings, typer.echo)
        typer.echo(ingest_files(spark, paths, encoding=encoding, replace_all=replace_all).describe())

    _execute(settings, "ingest", action, writes=True)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Output .csv/.csv.gz file, or a folder for part files")],
    rows: Annotated[float, typer.Option(help="Number of rows, e.g. 1e6")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
    with_rejects: Annotated[bool, typer.Option(help="Add rows that fail every reject reason")] = False,
) -> None:
    """Write synthetic transactions in the UCI shape (for trying the pipeline at scale)."""
    from segmentation.generate import generate as generate_rows

    try:
        path = generate_rows(out, rows=int(rows), seed=seed, with_rejects=with_rejects)
        typer.echo(f"wrote {int(rows):,} rows to {path}")
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def score(
    model_path: Annotated[Path | None, typer.Option(help="A saved model folder (default: the latest run's)")] = None,
    master: MasterOpt = None,
) -> None:
    """Assign clusters to the current customers with a saved model, without retraining. When new rows were
    ingested since the marts were built, rebuilds the RFM marts first; rebuilds the marts that join the
    clusters after."""
    from segmentation.clustering.score import score_customers
    from segmentation.spark import build_session

    settings = _settings(master=master)

    def action() -> None:
        from segmentation.dbt import run_dbt
        from segmentation.freshness import stale_ml_inputs
        from segmentation.pipeline import ML_INPUTS

        spark = build_session(settings, "segmentation-score")
        stale = stale_ml_inputs(spark)
        if stale:
            typer.echo(f"{stale}: rebuilding the RFM marts first (dbt build --select {ML_INPUTS}) ...")
            run_dbt(settings, ["build", "--select", ML_INPUTS, "--quiet"])
        result = score_customers(spark, settings, model_path=model_path)
        typer.echo(result.describe())
        typer.echo("wrote ml.customer_clusters and ml.customer_cluster_history; rebuilding the marts that join "
                   "them (dim_customers, segment_summary, the history marts) ...")
        run_dbt(settings, ["build", "--exclude", ML_INPUTS, "--quiet"])
        typer.echo("done: marts.dim_customers and marts.segment_summary show the new clusters")

    _execute(settings, "score", action, writes=True)


@app.command()
def compare(
    k: Annotated[int | None, typer.Option(help="k for all algorithms (default: the latest run's k)")] = None,
    seed: Annotated[int, typer.Option(help="Random seed")] = 42,
    master: MasterOpt = None,
) -> None:
    """Fit KMeans, BisectingKMeans and GaussianMixture at one k and compare their silhouettes
    (ml.algorithm_comparison)."""
    from segmentation.clustering.compare import compare_algorithms
    from segmentation.spark import build_session

    settings = _settings(master=master)

    def action() -> None:
        spark = build_session(settings, "segmentation-compare")
        typer.echo(compare_algorithms(spark, settings, k=k, seed=seed).describe())

    _execute(settings, "compare", action, writes=True)


@app.command()
def classify(
    seed: Annotated[int, typer.Option(help="Seed for the train/test split, CV folds and the tree")] = 42,
    master: MasterOpt = None,
) -> None:
    """Train the segment classifiers: predict a customer's cluster and RFM segment from characteristics other
    than R, F and M (ml.classifier_metrics, ml.classifier_confusion, ml.classifier_feature_importance)."""
    from segmentation.classifier import train_classifiers
    from segmentation.spark import build_session

    settings = _settings(master=master)

    def action() -> None:
        spark = build_session(settings, "segmentation-classify")
        typer.echo(train_classifiers(spark, settings, seed=seed).describe())

    _execute(settings, "classify", action, writes=True)


@app.command()
def report(
    out: Annotated[Path | None, typer.Option(help="Output folder (default: target/report)")] = None,
    master: MasterOpt = None,
) -> None:
    """Write the interactive HTML report (and a PNG per chart) from the warehouse tables."""
    from segmentation.report import build_report
    from segmentation.spark import build_session

    settings = _settings(master=master)

    def action() -> None:
        spark = build_session(settings, "segmentation-report")
        typer.echo(f"report written to {build_report(spark, settings, out_dir=out)}")

    _execute(settings, "report", action, writes=False)


@app.command()
def bench(
    rows: Annotated[str, typer.Option(help="Comma-separated sizes, e.g. 1e6,1e7,5e7")] = "1e5",
    out: Annotated[Path | None, typer.Option(help="Results folder (default: bench/results)")] = None,
    ways: Annotated[str, typer.Option(help="Which implementations: pipeline,floor")] = "pipeline,floor",
) -> None:
    """Benchmark the pipeline against the hand-written PySpark reference on generated data."""
    from bench.harness import run_bench

    try:
        typer.echo(run_bench(_settings(), rows=rows, out_dir=out, ways=ways))
    except SegmentationError as exc:
        _fail(str(exc))


@thrift_app.command("start")
def thrift_start(
    host: Annotated[str, typer.Option(envvar="SEGMENTATION_THRIFT_HOST", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SEGMENTATION_THRIFT_PORT", help="Port to listen on")] = 10000,
    allow_remote: Annotated[bool, typer.Option(help="Allow a --host other than loopback")] = False,
) -> None:
    """Start the Thrift server (and its PostgreSQL metastore), wait until it answers queries, and publish the
    marts of the last local run (`make run`) when it serves none yet."""
    from segmentation.service.publish import local_marts_exist, publish, serves_marts
    from segmentation.service.thrift import running_server, start_thrift

    settings = _settings(target="thrift")

    def action() -> None:
        typer.echo(start_thrift(settings, host=host, port=port, allow_remote=allow_remote))
        server = running_server(settings)
        if server is not None and local_marts_exist(settings) and not serves_marts(server):
            typer.echo("publishing the local run's marts (the server serves none yet) ...")
            typer.echo(publish(settings, server).describe())
        typer.echo(_connect_hint(server))

    _execute(settings, "thrift start", action, writes=False)


@thrift_app.command("publish")
def thrift_publish() -> None:
    """Copy the local warehouse's marts and ml tables (from `make run` / `segmentation run`) to the running
    Thrift server, replacing what it serves."""
    from segmentation.service.publish import publish
    from segmentation.service.thrift import running_server

    settings = _settings(target="thrift")

    def action() -> None:
        server = running_server(settings)
        if server is None:
            raise SegmentationError("the Thrift server is not running; start it with `segmentation thrift start`")
        typer.echo(publish(settings, server).describe())

    _execute(settings, "thrift publish", action, writes=False)


def _connect_hint(server) -> str:  # noqa: ANN001 - a ThriftServer or None
    if server is None:
        return ""
    venv_bin = Path(sys.executable).parent
    return (
        f"connect: {venv_bin / 'beeline'} -u '{server.jdbc_url}' -n segmentation -w {server.password_file}\n"
        f"         Superset: hive+spark://segmentation:<password>@{server.connect_host}:{server.port}/marts"
        "?auth=CUSTOM&schemas=marts,ml"
    )


@thrift_app.command("stop")
def thrift_stop() -> None:
    """Stop the Thrift server this project started (and its metastore database)."""
    from segmentation.service.thrift import stop_thrift

    settings = _settings(target="thrift")
    _execute(settings, "thrift stop", lambda: typer.echo(stop_thrift(settings)), writes=False)


@thrift_app.command("status")
def thrift_status() -> None:
    """Say whether the Thrift server is running and where; exit 3 when it is not."""
    from segmentation.service.thrift import thrift_status as status

    running, text = status(_settings(target="thrift"))
    typer.echo(text)
    if not running:
        raise typer.Exit(code=3)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
