"""The `segmentation` command. Each command builds one Settings and at most one SparkSession,
then hands them to library code. Imports are lazy so `--help` is instant."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from segmentation.errors import SegmentationError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
thrift_app = typer.Typer(no_args_is_help=True, help="Run the Spark Thrift Server that BI tools connect to.")
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


def _settings(target: str | None = None, master: str | None = None):
    from segmentation.config import Settings

    return Settings.from_env(target=target, spark_master=master)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


MasterOpt = Annotated[
    str | None, typer.Option("--master", help="Spark master URL; default: $SEGMENTATION_SPARK_MASTER or Spark's own")
]


@app.command()
def run(
    data: Annotated[Path | None, typer.Option(help="CSV, Parquet, .xlsx file or folder (default: sample)")] = None,
    target: Annotated[Target, typer.Option(help="local: embedded Spark; thrift: the Thrift server")] = Target.local,
    k: Annotated[int | None, typer.Option(help="Fixed number of clusters (2..50); default: the k rule")] = None,
    algorithm: Annotated[Algorithm, typer.Option(help="Clustering algorithm")] = Algorithm.kmeans,
    k_rule: Annotated[KRule | None, typer.Option(help="How k is chosen when --k is not given")] = None,
    seed: Annotated[int, typer.Option(help="Random seed for clustering")] = 42,
    encoding: Annotated[str, typer.Option(help="CSV encoding, e.g. ISO-8859-1")] = "utf-8",
    as_of_date: Annotated[str | None, typer.Option(help="RFM as-of date YYYY-MM-DD")] = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Build the HTML report at the end")] = True,
    data_tests: Annotated[
        DataTests,
        typer.Option(help="gate: dbt build, a failing test stops the run; after: all tests once, after the models"),
    ] = DataTests.gate,
    master: MasterOpt = None,
) -> None:
    """The main job: ingest, dbt build to the RFM mart, train clusters, dbt build the cluster marts."""
    from segmentation.pipeline import PipelineOptions, run_pipeline

    options = PipelineOptions(
        data=data,
        k=k,
        algorithm=algorithm.value,
        k_rule=(k_rule.value if k_rule else None),
        seed=seed,
        encoding=encoding,
        as_of_date=as_of_date,
        build_report=report,
        data_tests=data_tests.value,
    )
    try:
        run_pipeline(_settings(target.value, master), options)
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV, Parquet or .xlsx files (or folders of them)")],
    encoding: Annotated[str, typer.Option(help="CSV encoding, e.g. ISO-8859-1")] = "utf-8",
    replace_all: Annotated[bool, typer.Option(help="Empty raw.transactions first")] = False,
    master: MasterOpt = None,
) -> None:
    """Load files into raw.transactions. Reloading a file replaces that file's rows."""
    from segmentation.ingest import ingest_files
    from segmentation.spark import build_session
    from segmentation.warehouse import recover_interrupted_run

    try:
        settings = _settings(master=master)
        spark = build_session(settings, "segmentation-ingest")
        recover_interrupted_run(spark, typer.echo)
        result = ingest_files(spark, paths, encoding=encoding, replace_all=replace_all)
        typer.echo(result.describe())
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Output .csv/.csv.gz file, or a folder for part files")],
    rows: Annotated[float, typer.Option(help="Number of rows, e.g. 1e6")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
    with_rejects: Annotated[bool, typer.Option(help="Add rows that fail every reject reason")] = False,
) -> None:
    """Write synthetic transactions in the UCI shape, streaming, at constant memory."""
    from segmentation.generate import generate as generate_rows

    try:
        path = generate_rows(out, rows=int(rows), seed=seed, with_rejects=with_rejects)
        typer.echo(f"wrote {int(rows):,} rows to {path}")
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def score(
    model_path: Annotated[Path | None, typer.Option(help="Saved model; default: the latest run's")] = None,
    master: MasterOpt = None,
) -> None:
    """Assign clusters to the current marts.customer_rfm rows with a saved model, without retraining."""
    from segmentation.clustering.score import score_customers
    from segmentation.spark import build_session

    try:
        settings = _settings(master=master)
        spark = build_session(settings, "segmentation-score")
        typer.echo(score_customers(spark, settings, model_path=model_path).describe())
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def compare(
    k: Annotated[int | None, typer.Option(help="k for all algorithms; default: the latest run's k")] = None,
    seed: Annotated[int, typer.Option()] = 42,
    master: MasterOpt = None,
) -> None:
    """Run KMeans, BisectingKMeans and GaussianMixture at one k and write their silhouettes side by side."""
    from segmentation.clustering.compare import compare_algorithms
    from segmentation.spark import build_session

    try:
        settings = _settings(master=master)
        spark = build_session(settings, "segmentation-compare")
        typer.echo(compare_algorithms(spark, settings, k=k, seed=seed).describe())
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def classify(
    seed: Annotated[int, typer.Option(help="Seed for the train/test split, CV folds and the tree")] = 42,
    master: MasterOpt = None,
) -> None:
    """Train the segment classifiers (cluster and RFM segment from non-RFM characteristics) and write
    ml.classifier_metrics, ml.classifier_confusion and ml.classifier_feature_importance."""
    from segmentation.classifier import train_classifiers
    from segmentation.spark import build_session

    try:
        settings = _settings(master=master)
        spark = build_session(settings, "segmentation-classify")
        typer.echo(train_classifiers(spark, settings, seed=seed).describe())
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def report(
    out: Annotated[Path | None, typer.Option(help="Output folder; default: target/report")] = None,
    master: MasterOpt = None,
) -> None:
    """Write the interactive HTML report (and PNG charts) from the warehouse tables."""
    from segmentation.report import build_report
    from segmentation.spark import build_session

    try:
        settings = _settings(master=master)
        spark = build_session(settings, "segmentation-report")
        typer.echo(f"report written to {build_report(spark, settings, out_dir=out)}")
    except SegmentationError as exc:
        _fail(str(exc))


@app.command()
def bench(
    rows: Annotated[str, typer.Option(help="Comma-separated sizes, e.g. 1e6,1e7,5e7")] = "1e5",
    out: Annotated[Path | None, typer.Option(help="Results folder; default: bench/results")] = None,
    ways: Annotated[str, typer.Option(help="Which implementations: pipeline,floor,pandas")] = "pipeline,floor,pandas",
) -> None:
    """Benchmark the pipeline against a hand-written PySpark floor and a pandas implementation."""
    from segmentation.bench import run_bench

    try:
        typer.echo(run_bench(_settings(), rows=rows, out_dir=out, ways=ways))
    except SegmentationError as exc:
        _fail(str(exc))


@thrift_app.command("start")
def thrift_start(
    host: Annotated[str, typer.Option(envvar="SEGMENTATION_THRIFT_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SEGMENTATION_THRIFT_PORT")] = 10000,
) -> None:
    """Start the Thrift server (and its PostgreSQL metastore) and wait until it accepts connections."""
    from segmentation.service.thrift import start_thrift

    try:
        typer.echo(start_thrift(_settings(), host=host, port=port))
    except SegmentationError as exc:
        _fail(str(exc))


@thrift_app.command("stop")
def thrift_stop() -> None:
    """Stop the Thrift server this project started (and its metastore database)."""
    from segmentation.service.thrift import stop_thrift

    try:
        typer.echo(stop_thrift(_settings()))
    except SegmentationError as exc:
        _fail(str(exc))


@thrift_app.command("status")
def thrift_status() -> None:
    """Say whether the Thrift server is running and where it listens."""
    from segmentation.service.thrift import thrift_status as status

    typer.echo(status(_settings()))


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
