"""The warehouse as a service: a real PostgreSQL metastore and Spark Thrift Server, reached the way BI
tools reach it (PyHive, SQLAlchemy), shared with a second Spark JVM, rebuilt under load, and safe by
default: a password login, no SQL on the server's files, loopback only, no secret in a command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segmentation.config import Settings
from segmentation.service import metastore, thrift
from segmentation.service._proc import free_port, process_matches
from service_helpers import BiReader, remove_home, require_postgres, service_home, sqlalchemy_url

pytestmark = pytest.mark.slow
PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def svc_settings():
    require_postgres()
    home = service_home("seg_svc_")
    settings = Settings.from_env(home=home, project_dir=PROJECT_DIR, driver_memory="1g", shuffle_partitions=2,
                                 extra_spark_conf={"spark.ui.enabled": "false"})
    yield settings
    remove_home(home)


@pytest.fixture(scope="module")
def server(svc_settings):
    with thrift.running_thrift(svc_settings, port=free_port(), metastore_port=free_port()) as running:
        yield running
    # running_thrift has stopped both servers, even if a test failed.
    assert thrift.running_server(svc_settings) is None
    assert metastore.metastore_url(svc_settings) is None


def test_thrift_lifecycle(svc_settings, server):
    assert process_matches(server.pid, thrift.THRIFT_CLASS)
    assert server.host == "127.0.0.1"
    running, status = thrift.thrift_status(svc_settings)
    assert running and f"127.0.0.1:{server.port}" in status and "metastore running" in status
    again = thrift.start_thrift(svc_settings, port=server.port)
    assert again.startswith("already running") and f"pid {server.pid}" in again
    assert thrift.pid_file(svc_settings).is_file() and thrift.log_file(svc_settings).stat().st_size > 0
    assert metastore.metastore_url(svc_settings) == server.metastore_url
    assert server.metastore_url.startswith("jdbc:postgresql://127.0.0.1:")
    # A pid file naming some other process is never acted on.
    other = Settings.from_env(home=svc_settings.home / "elsewhere", project_dir=PROJECT_DIR, target="thrift")
    other.run_dir.mkdir(parents=True)
    thrift.pid_file(other).write_text(f"{os.getpid()} 127.0.0.1 1\n")
    assert "left that process alone" in thrift.stop_thrift(other, stop_metastore=False)


def test_two_jvms_and_bi_clients_share_tables(svc_settings, server):
    thrift.fetch(server, "create database if not exists svc_probe")
    thrift.fetch(server, "drop table if exists svc_probe.from_spark")
    thrift.fetch(server, "drop table if exists svc_probe.from_thrift")
    thrift.fetch(server, "create table svc_probe.from_thrift using parquet as "
                         "select id, cast(id * 3 as bigint) as v from range(50)")
    # A second JVM (like the ML step's own session) on the same metastore reads it and writes another table.
    code = (
        "from segmentation.config import Settings\n"
        "from segmentation.service.metastore import with_metastore\n"
        "from segmentation.spark import build_session\n"
        "conf = {'spark.ui.enabled': 'false'}\n"
        "s = with_metastore(Settings.from_env(driver_memory='1g', extra_spark_conf=conf))\n"
        "spark = build_session(s, 'svc-probe')\n"
        "jvm = spark.sparkContext._gateway.proc.pid\n"
        "print('CMDLINE', 'ConnectionPassword' in open(f'/proc/{jvm}/cmdline').read())\n"
        "total = spark.table('svc_probe.from_thrift').selectExpr('sum(v)').first()[0]\n"
        "spark.sql('drop table if exists svc_probe.from_spark')\n"
        "spark.sql(f'create table svc_probe.from_spark using parquet as select {total} as total')\n"
        "spark.sql('insert overwrite table svc_probe.from_thrift select id, id * 5 as v from range(50)')\n"
        "print('TOTAL', total)\n"
        "spark.stop()\n"
    )
    env = {**os.environ, "SEGMENTATION_HOME": str(svc_settings.home),
           "SEGMENTATION_PROJECT_DIR": str(PROJECT_DIR)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = 3 * sum(range(50))
    assert f"TOTAL {expected}" in done.stdout
    assert "CMDLINE False" in done.stdout  # the metastore password reached that JVM through a private file
    # The other JVM rewrote from_thrift's files; after a refresh the Thrift server reads the new ones.
    thrift.refresh_tables(server, ["svc_probe.from_thrift"])
    assert thrift.fetch(server, "select sum(v) from svc_probe.from_thrift") == [(5 * sum(range(50)),)]

    assert thrift.fetch(server, "select total from svc_probe.from_spark") == [(expected,)]
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(sqlalchemy_url(server, "svc_probe"))
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names(schema="svc_probe"))
            assert {"from_thrift", "from_spark"} <= tables
            joined = ("select count(*), sum(v) from svc_probe.from_spark, svc_probe.from_thrift "
                      "where total = 3 * 1225 group by total")
            rows = conn.execute(text(joined)).fetchall()
            assert [tuple(r) for r in rows] == [(50, 5 * 1225)]
    finally:
        engine.dispose()


def test_same_results_with_ansi_on_and_off(server):
    sql = ("select sum(v) as total, round(avg(v), 2) as mean, count(distinct v % 7) as buckets, "
           "max(case when id > 40 then 'late' else 'early' end) as label "
           "from (select id, cast(id * 3 as bigint) as v from range(50))")
    on, off = thrift.fetch_both_ansi_modes(server, sql)
    assert on == off and on[0][0] == 3675
    # The switch really changes the session: an invalid cast fails only with ANSI on.
    lenient = thrift.fetch(server, "select cast('x' as int)", ["set spark.sql.ansi.enabled=false"])
    assert lenient == [(None,)]
    with pytest.raises(Exception, match="CAST_INVALID_INPUT"):
        thrift.fetch(server, "select cast('x' as int)", ["set spark.sql.ansi.enabled=true"])


def _swap_project(tmp_path: Path) -> Path:
    """A throwaway dbt project: the repo's config and macros plus one tiny swap_table model."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_DIR / name, project / name)
    shutil.copytree(PROJECT_DIR / "macros", project / "macros")
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "swap_probe.sql").write_text(
        "{{ config(materialized='swap_table') }}\n"
        "select id, cast(id * 2 as bigint) as v from range({{ var('swap_rows', 100) }})\n"
    )
    return project


def test_swap_table_rebuilds_without_reader_errors(svc_settings, server, tmp_path, monkeypatch):
    from segmentation.dbt import run_dbt

    # An older build left a plain table: the first swap_table run must replace it by the view.
    thrift.fetch(server, "create database if not exists marts")
    thrift.fetch(server, "drop view if exists marts.swap_probe")
    thrift.fetch(server, "drop table if exists marts.swap_probe")
    thrift.fetch(server, "create table marts.swap_probe using parquet as select 1 as id, 2L as v")

    project = _swap_project(tmp_path)
    monkeypatch.setenv("SEGMENTATION_THRIFT_HOST", server.connect_host)
    monkeypatch.setenv("SEGMENTATION_THRIFT_PORT", str(server.port))
    monkeypatch.setenv("SEGMENTATION_THRIFT_PASSWORD", thrift.thrift_password(svc_settings))
    for key in ("SEGMENTATION_HOME", "SEGMENTATION_PROJECT_DIR", "SEGMENTATION_TARGET"):
        monkeypatch.setenv(key, os.environ.get(key, ""))  # restored after export_env() below
    dbt_settings = Settings.from_env(home=svc_settings.home, project_dir=project, target="thrift")
    run_dbt(dbt_settings, ["run", "--select", "swap_probe"])
    assert thrift.fetch(server, "select count(*), sum(v) from marts.swap_probe") == [(100, 9900)]

    rebuilds = 3
    started = time.monotonic()
    with BiReader(server, "select count(*), sum(v) from marts.swap_probe", {(100, 9900), (120, 14280)}) as bi:
        for i in range(rebuilds):
            rows = 100 if i % 2 else 120
            run_dbt(dbt_settings, ["run", "--select", "swap_probe", "--vars", f"{{swap_rows: {rows}}}"])
    print(f"swap_table: {bi.queries} BI queries during {rebuilds} rebuilds ({time.monotonic() - started:.0f}s), "
          f"{len(bi.failures)} failed, {len(bi.wrong)} wrong")
    assert bi.queries >= rebuilds and bi.failures == [] and bi.wrong == []
    assert thrift.fetch(server, "select count(*), sum(v) from marts.swap_probe") == [(120, 14280)]
    kinds = thrift.fetch(server, "show views in marts like 'swap_probe'")
    assert len(kinds) == 1
    versions = [r[1] for r in thrift.fetch(server, "show tables in internal_versions like 'swap_probe__v*'")]
    assert len(versions) == 2  # the current and the previous build only


def test_logins_need_the_homes_user_and_password(svc_settings, server):
    from pyhive import hive

    assert thrift.fetch(server, "select 1") == [(1,)]
    password = thrift.thrift_password(svc_settings)
    for username, secret in (("segmentation", "wrong"), ("intruder", password), ("segmentation", "")):
        with pytest.raises(Exception, match="Error validating the login"):
            server.connect(username=username, password=secret).close()
    # What the old default took (any user, auth NONE) is refused too.
    with pytest.raises(Exception, match="Error validating the login"):
        hive.connect(host=server.connect_host, port=server.port, username="anyone").close()


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("select * from text.`/etc/hostname`", "TABLE_OR_VIEW_NOT_FOUND"),
        ("set spark.sql.runSQLOnFiles=true", "runSQLOnFiles is locked off"),
        ("create temporary view probe_files using text options (path '/etc/hostname')", "not allowed"),
        ("create table probe_located (x string) using text location '/etc'", "outside the server.s warehouse"),
        ("insert overwrite directory '/tmp/probe_dir' using parquet select 1", "not allowed"),
        ("add jar /tmp/probe.jar", "not allowed"),
    ],
)
def test_clients_cannot_reach_the_servers_files(server, sql, refusal):
    with pytest.raises(Exception, match=refusal):
        thrift.fetch(server, sql)
    assert thrift.fetch(server, "select 1") == [(1,)]  # the server itself is fine


def test_locations_only_inside_the_servers_warehouse(svc_settings, server):
    warehouse = svc_settings.for_target("thrift").warehouse_dir
    escape = f"{warehouse}/internal_versions.db/../../../../etc"
    with pytest.raises(Exception, match="outside the server.s warehouse"):
        thrift.fetch(server, f"create table probe_escape (x string) using text location '{escape}'")
    # `thrift publish` registers copies inside the warehouse this way.
    inside = warehouse / "internal_versions.db" / "_published_probe"
    thrift.fetch(server, "create database if not exists internal_versions")
    thrift.fetch(server, f"create table internal_versions.probe_inside (x string) using parquet location '{inside}'")
    assert thrift.fetch(server, "select count(*) from internal_versions.probe_inside") == [(0,)]
    thrift.fetch(server, "drop table internal_versions.probe_inside")


def test_loopback_only_and_no_secret_in_any_command_line(svc_settings, server):
    import psutil

    processes = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    postmaster = int((metastore.pg_dir(svc_settings) / "data" / "postmaster.pid").read_text().split()[0])
    processes.append(psutil.Process(postmaster))
    secrets = [thrift.thrift_password(svc_settings),
               (svc_settings.for_target("thrift").secrets_dir / "metastore.password").read_text().strip()]
    for proc in processes:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        assert not any(secret in cmdline for secret in secrets), proc.name()
        assert "ConnectionPassword" not in cmdline
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                assert conn.laddr.ip in ("127.0.0.1", "::ffff:127.0.0.1", "::1"), (proc.name(), conn.laddr)
    service = svc_settings.for_target("thrift")
    for private in (service.secrets_dir / "thrift.password", service.secrets_dir / "metastore.password",
                    thrift.log_file(svc_settings)):
        assert private.stat().st_mode & 0o077 == 0, private
    for folder in (svc_settings.home, service.catalog_home, service.secrets_dir, service.run_dir):
        assert folder.stat().st_mode & 0o067 == 0, folder  # at most a traverse bit for the metastore's user


def test_other_addresses_need_allow_remote(svc_settings):
    from segmentation.errors import SegmentationError

    with pytest.raises(SegmentationError, match="pass --allow-remote"):
        thrift.start_thrift(svc_settings, host="0.0.0.0", port=free_port())
    assert "traffic not encrypted" in thrift.check_bind_host("0.0.0.0", allow_remote=True)
    assert thrift.check_bind_host("127.0.0.1", allow_remote=False) is None
