"""`segmentation thrift start|stop|status`: a real Spark Thrift Server (HiveThriftServer2) from the
pip-installed pyspark, on the thrift target's warehouse (`<home>/service`) and its PostgreSQL metastore.

Safe by default: it listens on 127.0.0.1 (another address needs --allow-remote), clients log in with the
home's user and random password (Hive CUSTOM authentication, java/server/PasswordFileAuthenticator), and
the SQL guard (java/server/SqlGuard) keeps clients away from the server's files: no SQL on raw paths, no
LOCATION, no INSERT DIRECTORY, no LOAD DATA, no ADD JAR.

dbt's `thrift` target, BI tools (JDBC/ODBC, PyHive, SQLAlchemy `hive://`) and the ML step's own Spark
session (via `with_metastore`) therefore all see one catalog and one set of Parquet files.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from segmentation.config import METASTORE_PASSWORD_KEY, Settings
from segmentation.errors import SegmentationError
from segmentation.secrets import (
    METASTORE_PASSWORD,
    THRIFT_PASSWORD,
    private_dir,
    secret,
    spark_properties,
    write_private,
)
from segmentation.service import metastore
from segmentation.service._proc import (
    launch,
    port_open,
    process_matches,
    read_pid,
    spark_env,
    spark_home,
    terminate,
    wait_until,
)
from segmentation.service.hive_shim import server_classpath, shim_classpath

THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10000
START_TIMEOUT_S = 240.0
THRIFT_USER = "segmentation"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def as_service(settings: Settings) -> Settings:
    """The thrift target's view of a home: everything the server owns lives in <home>/service."""
    return settings.for_target("thrift")


def password_file(settings: Settings) -> Path:
    """The Thrift password (owner-only; created with a random value at first start). Clients read it:
    beeline -w <file>, dbt through SEGMENTATION_THRIFT_PASSWORD, Superset in its URI."""
    return as_service(settings).secrets_dir / THRIFT_PASSWORD


def thrift_password(settings: Settings) -> str:
    return secret(as_service(settings).secrets_dir, THRIFT_PASSWORD)


@dataclass(frozen=True)
class ThriftServer:
    pid: int
    host: str
    port: int
    metastore_url: str | None
    password_file: Path

    @property
    def connect_host(self) -> str:
        # A server bound to every interface is still reached on loopback from this machine.
        return "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:hive2://{self.connect_host}:{self.port}/marts"

    def connect(self, username: str = THRIFT_USER, password: str | None = None, database: str = "default"):  # noqa: ANN201
        """A PyHive connection as a BI client makes it: SASL PLAIN with the home's user and password."""
        from pyhive import hive

        secret_value = self.password_file.read_text().strip() if password is None else password
        return hive.connect(host=self.connect_host, port=self.port, username=username, password=secret_value,
                            auth="CUSTOM", database=database)

    def describe(self) -> str:
        return (f"Spark Thrift Server (pid {self.pid}) listening on {self.host}:{self.port}; "
                f"JDBC {self.jdbc_url}; user {THRIFT_USER}, password in {self.password_file}")


def pid_file(settings: Settings) -> Path:
    return as_service(settings).run_dir / "thrift.pid"


def log_file(settings: Settings) -> Path:
    return as_service(settings).run_dir / "thrift.log"


def _marker(settings: Settings) -> str:
    """What identifies OUR server in a command line: the class and this project's warehouse folder."""
    return f"spark.sql.warehouse.dir={as_service(settings).warehouse_dir}"


def _is_ours(settings: Settings, pid: int | None) -> bool:
    return process_matches(pid, THRIFT_CLASS) and process_matches(pid, _marker(settings))


def running_server(settings: Settings) -> ThriftServer | None:
    """The server this project started, when it is still alive (pid file + command line check)."""
    path = pid_file(settings)
    pid = read_pid(path)
    if not _is_ours(settings, pid):
        return None
    fields = path.read_text().split()
    host, port = fields[1], int(fields[2])
    return ThriftServer(pid=pid, host=host, port=port, metastore_url=metastore.metastore_url(settings),  # type: ignore[arg-type]
                        password_file=password_file(settings))


def service_settings(settings: Settings) -> Settings:
    """Settings on the running PostgreSQL metastore: use them for any Spark session (e.g. the ML step
    of `segmentation run --target thrift`) that must see the Thrift server's tables."""
    return metastore.with_metastore(settings)


def thrift_command(settings: Settings, host: str, port: int) -> list[str]:
    """spark-submit for the server. Only names and paths are arguments: the metastore password is in an
    owner-only --properties-file, the Thrift password in an owner-only file the authenticator reads."""
    served = as_service(settings)
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", THRIFT_CLASS,
               "--name", "segmentation-thrift"]
    if served.spark_master:
        command += ["--master", served.spark_master]
    properties = spark_properties(served.secrets_dir, {
        METASTORE_PASSWORD_KEY: secret(served.secrets_dir, METASTORE_PASSWORD)})
    command += ["--properties-file", str(properties)]
    conf = served.spark_conf()
    # The server's own sessions need the LlapSigner stand-in (hive_shim) to close cleanly; its classes
    # authenticate clients and guard the SQL they may run.
    conf["spark.driver.extraClassPath"] = ":".join(filter(None, [
        conf.get("spark.driver.extraClassPath"), str(shim_classpath(served)), str(server_classpath(served))]))
    conf["spark.sql.extensions"] = "segmentation_server.SqlGuard"
    conf["spark.sql.runSQLOnFiles"] = "false"
    conf["spark.driver.extraJavaOptions"] = " ".join([
        conf["spark.driver.extraJavaOptions"].replace(str(served.spark_log), str(log_file(served))),
        f"-Dsegmentation.thrift.password.file={password_file(served)}",
        f"-Dsegmentation.thrift.user={THRIFT_USER}",
    ])
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    command += ["spark-internal",
                "--hiveconf", f"hive.server2.thrift.port={port}",
                "--hiveconf", f"hive.server2.thrift.bind.host={host}",
                "--hiveconf", "hive.server2.transport.mode=binary",
                "--hiveconf", "hive.server2.authentication=CUSTOM",
                "--hiveconf", "hive.server2.custom.authentication.class=segmentation_server.PasswordFileAuthenticator"]
    return command


def query_ok(server: ThriftServer) -> bool:
    """A real, authenticated client round trip, not just an open port."""
    try:
        conn = server.connect()
        try:
            cursor = conn.cursor()
            cursor.execute("show databases")
            cursor.fetchall()
            return True
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
        return False


def check_bind_host(host: str, allow_remote: bool) -> str | None:
    """None for loopback; for any other address, a refusal, or (with allow_remote) what it exposes."""
    if host in LOOPBACK:
        return None
    exposure = (f"listening on {host} lets every machine that reaches this one try to log in to the "
                "warehouse (password login, traffic not encrypted)")
    if not allow_remote:
        raise SegmentationError(f"--host {host}: {exposure}; pass --allow-remote to do it anyway, "
                                "or keep the default 127.0.0.1")
    return f"warning: {exposure}"


def start_thrift(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 timeout: float = START_TIMEOUT_S, metastore_port: int | None = None,
                 allow_remote: bool = False) -> str:
    """Start the metastore and the Thrift server, wait until a client query works, say where it listens."""
    warning = check_bind_host(host, allow_remote)
    settings = as_service(settings)
    if (server := running_server(settings)) is not None:
        return f"already running: {server.describe()}"
    legacy = settings.home / "postgres"
    if legacy.is_dir():
        raise SegmentationError(f"{legacy} holds a metastore from an older version of this project, which kept "
                                f"the Thrift server's catalog beside the local one; remove {legacy} (and "
                                f"{settings.home / 'run'}/thrift.*) or use a new SEGMENTATION_HOME")
    if port_open(host if host not in {"0.0.0.0", ""} else "127.0.0.1", port):
        raise SegmentationError(f"port {port} on {host} is already in use by another program; "
                                "pick another with --port or SEGMENTATION_THRIFT_PORT")
    url = metastore.start_metastore(settings, port=metastore_port)
    served = dataclasses.replace(settings, metastore_url=url)
    private_dir(served.warehouse_dir)
    thrift_password(served)
    log = log_file(settings)
    write_private(log, "")  # one log per start, so errors quoted below are this start's
    env = spark_env(SEGMENTATION_HOME=str(settings.home))
    if host not in LOOPBACK:
        env.pop("SPARK_LOCAL_IP", None)  # the user asked for a wider bind
    proc = launch(thrift_command(served, host, port), log, env=env)
    pid_file(settings).write_text(f"{proc.pid} {host} {port}\n")
    server = ThriftServer(pid=proc.pid, host=host, port=port, metastore_url=url,
                          password_file=password_file(settings))
    started = time.monotonic()
    try:
        wait_until(lambda: port_open(server.connect_host, port), timeout, "Spark Thrift Server", log,
                   alive=lambda: proc.poll() is None)
        wait_until(lambda: query_ok(server), max(30.0, timeout - (time.monotonic() - started)),
                   "Spark Thrift Server (first query)", log, alive=lambda: proc.poll() is None, interval=1.0)
    except BaseException:
        # Never leave a half-started server (or its database) behind.
        terminate(proc.pid)
        pid_file(settings).unlink(missing_ok=True)
        metastore.stop_metastore(settings)
        raise
    done = f"started in {time.monotonic() - started:.0f}s: {server.describe()}; log {log}"
    return f"{done}\n{warning}" if warning else done


def stop_thrift(settings: Settings, stop_metastore: bool = True) -> str:
    """Stop only the server this project started (pid file + command line check), then its metastore."""
    messages: list[str] = []
    path = pid_file(settings)
    pid = read_pid(path)
    if _is_ours(settings, pid):
        terminate(pid)  # type: ignore[arg-type]
        messages.append(f"Spark Thrift Server (pid {pid}) stopped")
    elif pid is not None:
        messages.append(f"stale pid file (pid {pid} is not our Thrift server); left that process alone")
    else:
        messages.append("Spark Thrift Server is not running")
    path.unlink(missing_ok=True)
    if stop_metastore:
        messages.append(metastore.stop_metastore(settings))
    return "; ".join(messages)


def thrift_status(settings: Settings) -> tuple[bool, str]:
    """(running, what to say)."""
    server = running_server(settings)
    state = f"running: {server.describe()}" if server else "Spark Thrift Server is not running"
    return server is not None, f"{state}; {metastore.metastore_status(settings)}"


@contextmanager
def running_thrift(settings: Settings, port: int, host: str = DEFAULT_HOST, timeout: float = START_TIMEOUT_S,
                   metastore_port: int | None = None) -> Iterator[ThriftServer]:
    """For tests and scripts: a started server that is stopped (with its metastore) even on failure."""
    try:
        start_thrift(settings, host=host, port=port, timeout=timeout, metastore_port=metastore_port)
        server = running_server(settings)
        if server is None:
            raise SegmentationError(f"Spark Thrift Server exited right after start; see {log_file(settings)}")
        yield server
    finally:
        stop_thrift(settings)


def fetch(server: ThriftServer, sql: str, settings_sql: Sequence[str] = ()) -> list[tuple]:
    """Run one query as a BI client would (PyHive, the home's user and password) after optional
    `set k=v` statements."""
    conn = server.connect()
    try:
        cursor = conn.cursor()
        for statement in settings_sql:
            cursor.execute(statement)
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        conn.close()


def fetch_both_ansi_modes(server: ThriftServer, sql: str) -> tuple[list[tuple], list[tuple]]:
    """The same query with ANSI mode on (Spark 4's default) and off (what dbt-spark sessions use)."""
    on = fetch(server, sql, ["set spark.sql.ansi.enabled=true"])
    off = fetch(server, sql, ["set spark.sql.ansi.enabled=false"])
    return on, off


def refresh_tables(server: ThriftServer, tables: Sequence[str]) -> None:
    """After another JVM (the ML step) rewrote tables, drop the Thrift server's cached file listings of
    them, so dbt models and BI queries through Thrift read the new files, not the replaced ones."""
    conn = server.connect()
    try:
        cursor = conn.cursor()
        for table in tables:
            cursor.execute(f"refresh table {table}")
    finally:
        conn.close()


def ensure_thrift_for_pipeline(settings: Settings, echo=print) -> Settings:
    """For `segmentation run --target thrift`: use the project's running Thrift server (start it, with its
    metastore, when it is not running; it stays up afterwards for BI clients), point dbt at it, and return
    Settings whose Spark session (ingest, ML step) shares the server's PostgreSQL metastore."""
    import os

    server = running_server(settings)
    if server is None:
        host = os.environ.get("SEGMENTATION_THRIFT_HOST", DEFAULT_HOST)
        port = int(os.environ.get("SEGMENTATION_THRIFT_PORT", DEFAULT_PORT))
        echo("    " + start_thrift(settings, host=host, port=port))
        server = running_server(settings)
        if server is None:
            raise SegmentationError(f"the Thrift server did not stay up; see {log_file(settings)}")
    os.environ["SEGMENTATION_THRIFT_HOST"] = server.connect_host
    os.environ["SEGMENTATION_THRIFT_PORT"] = str(server.port)
    # profiles.yml reads it; an environment variable, never a process argument.
    os.environ["SEGMENTATION_THRIFT_PASSWORD"] = thrift_password(settings)
    return service_settings(settings)


def refresh_pipeline_tables(settings: Settings, tables: Sequence[str]) -> None:
    """refresh_tables on the project's running server (see refresh_tables)."""
    server = running_server(settings)
    if server is None:
        raise SegmentationError(f"the Thrift server is not running; see {log_file(settings)}")
    refresh_tables(server, tables)
