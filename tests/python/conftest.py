"""One SparkSession for the whole pytest session, on a throw-away warehouse folder.

Tests that read the pipeline's tables share one pipeline run (the `pipeline_run` fixture);
tests marked real_data run last because they rebuild the same warehouse from the UCI file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("SEGMENTATION_SHARED_DATA", PROJECT_DIR.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED_DATA / "online_retail.csv.gz"
ONLINE_RETAIL_II = SHARED_DATA / "online_retail_ii_year_2009_2010.csv.gz"


def missing_dependency(reason: str) -> None:
    """Skip with the reason on a developer's machine; in CI (CI set) a missing dependency fails the run."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs this: {reason}", pytrace=False)
    pytest.skip(reason)


def require_file(path: Path) -> Path:
    if not path.is_file():
        missing_dependency(f"real UCI data not found at {path} (it lives in ../shared/data beside the checkout)")
    return path


def pytest_collection_modifyitems(config, items):
    # Four groups, file order kept inside each: tests that write their own tables into the shared test
    # warehouse; then the modules reading the one shared sample pipeline run; then those that rebuild parts
    # of that run at other dates (and restore it); last the real-data tests,
    # which rebuild the warehouse from the UCI file. A module moves as a whole, so its module-scoped
    # fixtures (a Thrift pipeline run, say) are built once.
    readers = {item.module.__name__ for item in items if "pipeline_run" in getattr(item, "fixturenames", ())}

    def group(item) -> int:
        if item.get_closest_marker("real_data") is not None:
            return 3
        if item.get_closest_marker("rebuilds_sample") is not None:
            return 2  # after every reader of the shared run: it rebuilds customer_rfm at other dates
        return 1 if item.module.__name__ in readers else 0

    items.sort(key=group)


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    from segmentation.config import Settings

    home = tmp_path_factory.mktemp("warehouse")
    os.environ["SEGMENTATION_HOME"] = str(home)
    os.environ["SEGMENTATION_PROJECT_DIR"] = str(PROJECT_DIR)
    os.environ.setdefault("SEGMENTATION_SHUFFLE_PARTITIONS", "4")
    os.environ.setdefault("SEGMENTATION_DRIVER_MEMORY", "3g")
    return Settings.from_env(home=home, extra_spark_conf={"spark.ui.enabled": "false"})


@pytest.fixture(scope="session")
def spark(settings):
    from segmentation.spark import build_session

    session = build_session(settings, "segmentation-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def uci_floor(spark):
    """The hand-written PySpark reference on the real UCI file, computed once and shared by the tests that
    cross-check the pipeline against it."""
    from reference.floor import run_floor

    # Its own schemas (floor_uci_*), so the floor runs of other tests never overwrite its tables.
    result = run_floor(spark, [str(require_file(ONLINE_RETAIL))], k=4, seed=42, prefix="floor_uci_")
    result.customers_df = result.customers_df.cache()
    return result


# ml.model_runs and ml.k_sweep keep every run's rows, and the shared test warehouse holds several runs.
APPENDED_ML_TABLES = {"model_runs", "k_sweep"}


def floor_table_differences(spark, paths: list[str], run_id: str, prefix: str, floor=None):  # noqa: ANN001
    """Run the benchmark's floor on `paths` into `prefix`ed schemas (unless a finished `floor` result is
    given) and compare every output table's fingerprint (reference/fingerprints.py) with the pipeline's run `run_id`
    in this warehouse. Returns (the pipeline's fingerprints, {table: (pipeline, floor)} that differ)."""
    from reference.fingerprints import fingerprints, in_warehouse
    from reference.floor import run_floor

    if floor is None:
        floor = run_floor(spark, paths, k=4, seed=42, prefix=prefix)
    ours = fingerprints(spark, in_warehouse(spark))
    theirs = fingerprints(spark, in_warehouse(spark, prefix))
    assert set(ours) == set(theirs) and not any(f.get("missing") for f in ours.values())
    differing = {t: (ours[t], theirs[t]) for t in ours if t not in APPENDED_ML_TABLES and ours[t] != theirs[t]}
    # The appended tables: this run's sweep has the floor's k values.
    swept = spark.table("ml.k_sweep").where(f"run_id = '{run_id}'").selectExpr("count(*)", "sum(k)").first()
    if [str(v) for v in swept] != [theirs["k_sweep"]["rows"], theirs["k_sweep"]["ks"]]:
        differing["k_sweep"] = ([str(v) for v in swept], theirs["k_sweep"])
    return ours, differing


@pytest.fixture(scope="session")
def pipeline_run(spark, settings):
    """One local `segmentation run` (k=4, no report) on the bundled sample, shared by the pipeline tests
    and by the thrift/cluster tests that compare their figures with it. It runs the tests after the models
    (`--data-tests after`, what the benchmark measures); the subprocess runs those tests start use the
    default `gate` mode, so comparing their figures with this run also compares the two modes."""
    from dataclasses import replace

    from segmentation.pipeline import PipelineOptions, run_pipeline

    # The environment fixes 4 shuffle partitions for the other tests; this run sizes its own from the input.
    sized = replace(settings, shuffle_partitions=None)
    return run_pipeline(sized, PipelineOptions(k=4, build_report=False, data_tests="after"), spark=spark)
