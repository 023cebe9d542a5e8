"""The whole pipeline as a service: `segmentation run --target thrift` through a real Spark Thrift Server
on a PostgreSQL metastore, read back the way BI tools read it (PyHive, SQLAlchemy hive://), rebuilt while
a BI client keeps querying, and `segmentation run` on a real standalone cluster. Figures must equal the
local in-process run (`pipeline_run`, conftest.py).

Pipeline runs are subprocesses with their own SEGMENTATION_HOME: pytest's process already owns a
SparkSession on Derby. Wall times go to test-artifacts/service_pipeline.json (and stdout with -s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segmentation.config import Settings
from segmentation.service import metastore, thrift
from segmentation.service._proc import free_port, process_matches
from segmentation.service.cluster import WORKER_CLASS, run_pipeline_subprocess, running_cluster
from service_helpers import BiReader, remove_home, require_postgres, service_home, sqlalchemy_url

pytestmark = pytest.mark.slow
PROJECT_DIR = Path(__file__).resolve().parents[2]
ARTIFACT = PROJECT_DIR / "test-artifacts" / "service_pipeline.json"
RUN_TIMEOUT_S = 1200.0
# The console scripts installed beside this interpreter (the venv's).
DBT = str(Path(sys.executable).parent / "dbt")
SEGMENTATION = str(Path(sys.executable).parent / "segmentation")
MARTS_SQL = {
    "segment_summary": "select * from marts.segment_summary order by segment_kind, segment",
    "dim_customers": (
        "select customer_id, rfm_segment, cluster_id, cluster_name, monetary from marts.dim_customers "
        "order by customer_id"
    ),
}


def _record(key: str, value: object) -> None:
    """Merge one figure into the JSON artifact and print it (visible with pytest -s)."""
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(ARTIFACT.read_text()) if ARTIFACT.is_file() else {}
    data[key] = value
    ARTIFACT.write_text(json.dumps(data, indent=2, sort_keys=True))
    print(f"[service pipeline] {key}: {json.dumps(value)}")


def _subprocess_env(home: Path, summary: Path, **extra: str) -> dict[str, str]:
    # Same Spark sizing as the in-process run (conftest), so the figures are comparable.
    return {
        "SEGMENTATION_HOME": str(home),
        "SEGMENTATION_PROJECT_DIR": str(PROJECT_DIR),
        "SEGMENTATION_SUMMARY_PATH": str(summary),
        "SEGMENTATION_SHUFFLE_PARTITIONS": os.environ.get("SEGMENTATION_SHUFFLE_PARTITIONS", "4"),
        "SEGMENTATION_DRIVER_MEMORY": "2g",
        "SEGMENTATION_TARGET": "local",
        "SPARK_LOCAL_IP": "127.0.0.1",
        **extra,
    }


def _assert_same_figures(other: dict, local) -> None:
    assert "dbt build (to customer_rfm)" in other["timings_seconds"]  # the default mode: tests gate the build
    assert other["customers"] == local.customers > 0
    assert other["total_monetary"] == pytest.approx(local.total_monetary, abs=0.01)
    assert other["rfm_segments"] == local.rfm_segments
    assert other["cluster_sizes"] == local.cluster_sizes
    assert other["row_fates"] == local.row_fates
    assert other["clustering"]["k"] == local.clustering["k"] == 4


@pytest.fixture(scope="module")
def thrift_run():
    """The analyst's road on one SEGMENTATION_HOME, in subprocesses as a user types it:
    1. `segmentation run` (the local target, what `make run` does);
    2. `segmentation thrift start`, which publishes that run's marts, so BI clients find them at once;
    3. `segmentation run --target thrift` on the same home (it once failed with LOCATION_ALREADY_EXISTS).
    The thrift run leaves its server (and metastore) up for BI clients by design; this fixture stops both,
    even when a test fails."""
    require_postgres()
    home = service_home("seg_tpipe_")
    svc = Settings.from_env(home=home, project_dir=PROJECT_DIR, target="thrift")
    summary_path = home / "run_summary.json"
    env = {**os.environ, **_subprocess_env(home, summary_path, SEGMENTATION_THRIFT_HOST="127.0.0.1",
                                           SEGMENTATION_THRIFT_PORT=str(free_port()),
                                           SEGMENTATION_METASTORE_PORT=str(free_port()))}

    def segmentation(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([SEGMENTATION, *args], env=env, cwd=PROJECT_DIR, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done

    try:
        segmentation("run", "--no-report", "--k", "4")
        local_summary = json.loads(summary_path.read_text())
        started = segmentation("thrift", "start")
        server = thrift.running_server(svc)
        road = {"local_summary": local_summary, "thrift_start": started.stdout,
                "published": _published_figures(server)}
        started = time.monotonic()
        segmentation("run", "--target", "thrift", "--no-report", "--k", "4")
        wall = time.monotonic() - started
        server = thrift.running_server(svc)
        assert server is not None, "the thrift run must leave its server running for BI clients"
        yield svc, server, json.loads(summary_path.read_text()), wall, road
    finally:
        stop_message = thrift.stop_thrift(svc)
        print(f"[service pipeline] {stop_message}")
        assert thrift.running_server(svc) is None and metastore.metastore_url(svc) is None
        remove_home(home)


def _published_figures(server) -> dict:  # noqa: ANN001 - a thrift.ThriftServer
    """What a BI client sees right after `thrift start`, before any thrift run: PyHive and SQLAlchemy."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(sqlalchemy_url(server, "marts"))
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            views = inspector.get_view_names(schema="marts")
            comments = {c["name"]: c.get("comment") for c in inspector.get_columns("customer_rfm", schema="marts")}
            schemas = inspector.get_schema_names()
    finally:
        engine.dispose()
    return {
        "views": views,
        "schemas": schemas,
        "customer_rfm_comments": comments,
        "customers": thrift.fetch(server, "select count(*) from marts.dim_customers")[0][0],
        "clusters": dict(thrift.fetch(server, "select cluster_name, count(*) from marts.dim_customers "
                                              "where cluster_name is not null group by cluster_name")),
        "ml_runs": thrift.fetch(server, "select count(distinct run_id) from ml.customer_clusters")[0][0],
    }


def test_thrift_start_publishes_the_local_run_for_bi_clients(thrift_run, pipeline_run):
    *_, road = thrift_run
    assert "published" in road["thrift_start"] and "marts.segment_summary" in road["thrift_start"]
    assert "beeline" in road["thrift_start"] and "hive+spark://" in road["thrift_start"]  # how to connect
    published = road["published"]
    _assert_same_figures(road["local_summary"], pipeline_run)
    assert published["customers"] == pipeline_run.customers
    assert published["clusters"] == pipeline_run.cluster_sizes
    assert published["ml_runs"] == 1
    # Superset's table browser: the marts listed once each (not the schema name), the internal copies hidden.
    assert {"customer_rfm", "dim_customers", "segment_summary", "customer_segment_history"} <= set(
        published["views"])
    assert len(published["views"]) == len(set(published["views"]))
    assert "internal_versions" not in published["schemas"] and "marts" in published["schemas"]
    # The dbt descriptions reach BI users as column comments.
    assert published["customer_rfm_comments"]["recency_days"].startswith("Days from the last")


def test_thrift_pipeline_matches_local_run(thrift_run, pipeline_run):
    _svc, _server, summary, wall, _road = thrift_run
    assert summary["target"] == "thrift"
    _assert_same_figures(summary, pipeline_run)
    _record("thrift_run", {"wall_seconds": round(wall, 1),
                           "pipeline_total_seconds": summary["timings_seconds"]["total"],
                           "steps": summary["timings_seconds"]})
    _record("local_run", {"pipeline_total_seconds": pipeline_run.timings_seconds["total"],
                          "steps": pipeline_run.timings_seconds})


def test_bi_clients_read_the_marts(thrift_run, pipeline_run):
    from sqlalchemy import create_engine, inspect, text

    _svc, server, _summary, _wall, _road = thrift_run
    # PyHive, as a notebook user would.
    listed = {row[1] for row in thrift.fetch(server, "show tables in marts")}
    assert {"customer_rfm", "dim_customers", "segment_summary", "fct_orders"} <= listed
    # SQLAlchemy, as Superset connects: the marts are views, listed as views.
    engine = create_engine(sqlalchemy_url(server, "marts"))
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_view_names(schema="marts")) == listed
            clusters = conn.execute(text(
                "select cluster_name, count(*) from marts.dim_customers where cluster_name is not null "
                "group by cluster_name")).fetchall()
            assert dict(clusters) == pipeline_run.cluster_sizes
    finally:
        engine.dispose()

    for name, sql in MARTS_SQL.items():
        on, off = thrift.fetch_both_ansi_modes(server, sql)
        assert on == off, f"marts.{name} differs between ANSI on and off"
        assert len(on) > 0
    dim = thrift.fetch(server, MARTS_SQL["dim_customers"])
    assert len(dim) == pipeline_run.customers
    assert {row[3] for row in dim if row[4] > 0} == {"VIP", "Potential", "New", "Churned"}
    kinds = {row[0] for row in thrift.fetch(server, "select distinct segment_kind from marts.segment_summary")}
    assert kinds == {"rfm_segment", "cluster"}


def test_beeline_from_the_venv_reads_the_marts_and_their_comments(thrift_run, pipeline_run):
    """beeline as the README gives it: `.venv/bin/beeline` by its path, with a PATH that lacks `.venv/bin`, the
    password read from the owner-only file (-w), never on the command line."""
    svc, server, _summary, _wall, _road = thrift_run
    beeline = Path(sys.executable).parent / "beeline"
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != beeline.parent)
    env = {key: value for key, value in os.environ.items() if key != "SPARK_HOME"} | {"PATH": path}
    url = f"jdbc:hive2://{server.connect_host}:{server.port}/marts"

    def beeline_rows(sql: str) -> list[str]:
        done = subprocess.run(
            [str(beeline), "-u", url, "-n", thrift.THRIFT_USER, "-w", str(thrift.password_file(svc)), "--silent=true",
             "--outputformat=csv2", "-e", sql],
            env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
        return [line for line in done.stdout.splitlines() if line.strip()]

    assert beeline_rows("select count(*) from marts.customer_rfm")[-1] == str(pipeline_run.customers)
    described = beeline_rows("describe marts.customer_rfm")
    segment = next(line for line in described if line.startswith("rfm_segment,"))
    assert len(segment.split(",", 2)[2].strip('" ')) > 20, segment  # the dbt description, as the comment


def test_bi_reads_during_a_rebuild(thrift_run):
    """A BI client queries segment_summary in a loop while dbt rebuilds it (and dim_customers) through the
    same Thrift server: the swap_table views must never show an error or a partial table."""
    svc, server, _summary, _wall, _road = thrift_run
    sql = "select count(*), sum(customers) from marts.segment_summary"
    expected = thrift.fetch(server, sql)[0]
    assert expected[0] > 0 and expected[1] > 0

    env = {**os.environ, **_subprocess_env(svc.home, svc.home / "unused.json",
                                           SEGMENTATION_TARGET="thrift",
                                           SEGMENTATION_THRIFT_HOST=server.connect_host,
                                           SEGMENTATION_THRIFT_PORT=str(server.port),
                                           SEGMENTATION_THRIFT_PASSWORD=thrift.thrift_password(svc),
                                           # dbt's artifacts apart from the project's target/ folder
                                           DBT_TARGET_PATH=str(svc.home / "dbt-target"))}
    command = [DBT, "run",
               "--select", "segment_summary", "dim_customers",
               "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--target", "thrift"]
    started = time.monotonic()
    rebuilds = 2
    with BiReader(server, sql, {expected}) as bi:
        for _ in range(rebuilds):
            done = subprocess.run(command, env=env, cwd=PROJECT_DIR, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, done.stdout[-3000:]
    _record("bi_reads_during_rebuild", {"rebuilds": rebuilds, "queries": bi.queries, "failed": len(bi.failures),
                                        "inconsistent": len(bi.wrong),
                                        "seconds": round(time.monotonic() - started, 1)})
    assert bi.failures == [] and bi.wrong == []
    assert bi.queries >= rebuilds
    assert thrift.fetch(server, sql)[0] == expected


def test_thrift_server_log_has_no_class_loading_errors(thrift_run):
    """Every client session above was opened and closed on this server; the Hive shim (hive_shim.py)
    must have kept session closes free of NoClassDefFoundError."""
    svc, _server, _summary, _wall, _road = thrift_run
    log = thrift.log_file(svc).read_text(errors="replace")
    assert "NoClassDefFoundError" not in log


def _dbt_show_json(env: dict[str, str], sql: str) -> list[dict]:
    done = subprocess.run([DBT, "show", "--quiet", "--output", "json",
                           "--profiles-dir", str(PROJECT_DIR), "--project-dir", str(PROJECT_DIR), "--inline", sql],
                          env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    return json.loads(done.stdout[done.stdout.index('{\n  "show"'):])["show"]


def _run_and_kill(command: list[str], env: dict[str, str], marker: str, delay_s: float) -> str:
    """Start the pipeline and SIGKILL its whole process group (JVM included) `delay_s` after it prints a
    line containing `marker`; return what it printed until then."""
    victim = subprocess.Popen(command, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    printed: list[str] = []
    reached = False
    try:
        for line in victim.stdout:
            printed.append(line)
            if marker in line:
                reached = True
                time.sleep(delay_s)
                break
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=120)
    output = "".join(printed)
    assert reached, f"the run ended before {marker!r}:\n{output[-4000:]}"
    return output


def test_rerun_on_a_standalone_cluster_after_kills_leaves_complete_tables(pipeline_run):
    """Reliability and scale-out in one warehouse: kill -9 the pipeline while dbt builds the history,
    then while the ML step writes its tables; the next run, on a real standalone cluster (master and two
    workers, reached through SEGMENTATION_SPARK_MASTER alone), must succeed and leave complete tables equal
    to the local run. One full run serves both checks, so that `make test` keeps within its time budget."""
    home = service_home("seg_kill_")
    try:
        summary_path = home / "run_summary.json"
        run_env = _subprocess_env(home, summary_path)
        env = {**os.environ, **run_env, "PYTHONUNBUFFERED": "1"}
        # The killed runs build without tests (`--data-tests after`), so they reach the ML step sooner; the
        # kill points are the same in both modes.
        killed = [SEGMENTATION, "run", "--no-report", "--k", "4", "--data-tests", "after"]
        # Killed as dbt starts writing the RFM history (SPEC 10), a table model. The window in which a CTAS
        # has written files but not yet registered its table is too short to hit by timing, so what it leaves
        # is planted: files under _temporary, no _SUCCESS, no table. Unrecovered, every later build of the
        # model would fail with LOCATION_ALREADY_EXISTS.
        _run_and_kill(killed, env, "START sql table model intermediate.int_customer_rfm_history", 0)
        half_written = home / "spark-warehouse" / "intermediate.db" / "int_customer_rfm_history"
        (half_written / "_temporary" / "0").mkdir(parents=True, exist_ok=True)
        (half_written / "_temporary" / "0" / "part-00000.parquet").write_bytes(b"partial")
        printed = _run_and_kill(killed, env, "==> train clusters ", delay_s=8)
        assert f"removed file:{half_written}: a half-written table folder" in printed
        assert not summary_path.exists()

        # The rerun: the default (gated) mode, on the cluster.
        with running_cluster(home / "cluster", workers=2, cores=1, memory="2g") as cluster:
            assert cluster.alive_workers() == 2
            started = time.monotonic()
            done = run_pipeline_subprocess(
                cluster.master_url, home, ["--no-report", "--k", "4"],
                extra_env={**run_env, "SEGMENTATION_EXECUTOR_MEMORY": "1g"},  # the master: from the helper
                timeout=RUN_TIMEOUT_S)
            wall = time.monotonic() - started
            state = cluster.state()
            pids = list(cluster.pids)
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
        apps = [app for app in state.get("completedapps", []) + state.get("activeapps", [])
                if app["name"] == "segmentation-run"]
        assert apps, "the rerun ran on the standalone master"
        assert not any(process_matches(pid, WORKER_CLASS) for pid in pids)  # the cluster stopped
        summary = json.loads(summary_path.read_text())
        _assert_same_figures(summary, pipeline_run)
        [counts] = _dbt_show_json(env, (
            "select (select count(*) from marts.customer_rfm) as rfm, "
            "(select count(*) from marts.dim_customers) as dim, "
            "(select count(*) from marts.dim_customers where cluster_id is null and monetary > 0) as no_cluster, "
            "(select count(*) from raw.transactions) as raw_rows, "
            "(select count(*) from marts.customer_segment_history) as history_rows, "
            "(select sum(customers) from marts.history_calendar) as calendar_customers, "
            "(select count(distinct as_of_date) from marts.customer_segment_history) as history_dates"))
        assert counts["rfm"] == counts["dim"] == pipeline_run.customers
        assert counts["no_cluster"] == 0
        assert counts["raw_rows"] == sum(pipeline_run.row_fates.values())  # three ingests, no duplicate rows
        # The history is whole: every date of the local run, every customer of each date once.
        assert counts["history_dates"] == pipeline_run.history_dates > 1
        assert counts["history_rows"] == counts["calendar_customers"]
        _record("kill_and_rerun_on_cluster", {
            "kills": ["dbt starts int_customer_rfm_history (half-written folder)",
                      "train clusters +8 s"],
            "rerun": {"workers": 2, "wall_seconds": round(wall, 1),
                      "pipeline_total_seconds": summary["timings_seconds"]["total"],
                      "cluster_sizes": summary["cluster_sizes"]},
            "rerun_customers": counts["dim"], "equal_to_local": True})
    finally:
        remove_home(home)
