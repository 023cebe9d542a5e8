"""The project's own PostgreSQL server, holding the thrift target's shared Hive metastore.

Embedded Derby allows one JVM per metastore folder; the Thrift server, the ML step's Spark session and
any other JVM must see one catalog, so they all point at this database instead. The server is a private
instance: data under `<home>/service/postgres`, its unix socket in that folder too, TCP on 127.0.0.1 only,
and the metastore role's password is random per home (`<home>/service/secrets/metastore.password`), sent
to psql on its standard input, never as an argument. PostgreSQL refuses to run as root, so under root it
runs as an unprivileged OS user, which may traverse (not list) the home: group-owned, mode 710.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import subprocess
from pathlib import Path

from segmentation.config import METASTORE_USER, POSTGRES_JDBC_JAR, Settings
from segmentation.errors import SegmentationError
from segmentation.secrets import METASTORE_PASSWORD, private_dir, secret
from segmentation.service._proc import port_open, process_matches

PG_BIN = Path(os.environ.get("SEGMENTATION_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEFAULT_PORT = 5433
DB_NAME = "segmentation"


def _service(settings: Settings) -> Settings:
    return settings.for_target("thrift")


def pg_dir(settings: Settings) -> Path:
    return _service(settings).catalog_home / "postgres"


def _data_dir(settings: Settings) -> Path:
    return pg_dir(settings) / "data"


def _socket_dir(settings: Settings) -> Path:
    return pg_dir(settings) / "socket"


def log_file(settings: Settings) -> Path:
    # Beside its data, in the server's own folder: the run folder is private to us, and under root the
    # server runs as another user.
    return pg_dir(settings) / "postgres.log"


def pid_file(settings: Settings) -> Path:
    return _service(settings).run_dir / "postgres.pid"


def jdbc_url(port: int) -> str:
    return f"jdbc:postgresql://127.0.0.1:{port}/{DB_NAME}"


def _os_user() -> str | None:
    """The OS user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("SEGMENTATION_PG_OS_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError:
        name = "segmentation-pg"
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                           check=True, capture_output=True)
    return name


def _as_user(user: str | None, command: list[str], **kwargs) -> subprocess.CompletedProcess:
    full = ["runuser", "-u", user, "--", *command] if user else command
    return subprocess.run(full, capture_output=True, text=True, **kwargs)


def _chown(path: Path, user: str | None) -> None:
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _running_port(settings: Settings) -> int | None:
    """Port of our server when its postmaster is alive (postmaster.pid: pid, datadir, start, port, ...)."""
    lines = _postmaster_lines(settings)
    if len(lines) < 4 or not process_matches(int(lines[0]), "postgres"):
        return None
    return int(lines[3])


def _postmaster_lines(settings: Settings) -> list[str]:
    try:
        return (_data_dir(settings) / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []


def metastore_url(settings: Settings) -> str | None:
    """The JDBC URL of the running metastore, or None when it is not running."""
    port = _running_port(settings)
    return jdbc_url(port) if port else None


def with_metastore(settings: Settings) -> Settings:
    """Thrift-target settings whose Spark sessions use the running PostgreSQL metastore (raises when it
    is down)."""
    url = metastore_url(settings)
    if url is None:
        raise SegmentationError(f"the PostgreSQL metastore of {settings.home} is not running; "
                                "start it with `segmentation thrift start`")
    return dataclasses.replace(_service(settings), metastore_url=url)


def _allow_traverse(folders: list[Path], user: str | None) -> None:
    """Let the server's OS user pass through our private folders to its data (under root only)."""
    if not user:
        return
    group = pwd.getpwnam(user).pw_gid
    for folder in folders:
        if folder.stat().st_uid == os.geteuid():
            os.chown(folder, -1, group)
            folder.chmod(0o710)


def _check_installed() -> None:
    if not (PG_BIN / "postgres").is_file():
        raise SegmentationError(f"PostgreSQL server binaries not found in {PG_BIN}; run `make system-deps` "
                                "(Debian packages postgresql and libpostgresql-jdbc-java)")
    if not POSTGRES_JDBC_JAR.is_file():
        raise SegmentationError(f"PostgreSQL JDBC driver not found at {POSTGRES_JDBC_JAR}; "
                                "run `make system-deps`")


def start_metastore(settings: Settings, port: int | None = None) -> str:
    """Start (initialising on first use) the project's PostgreSQL and return the metastore JDBC URL.
    Idempotent: a running server is reused, whatever port was asked for."""
    if (running := _running_port(settings)) is not None:
        return jdbc_url(running)
    _check_installed()
    port = port or int(os.environ.get("SEGMENTATION_METASTORE_PORT", DEFAULT_PORT))
    if port_open("127.0.0.1", port):
        raise SegmentationError(f"port {port} on 127.0.0.1 is taken by another program; "
                                "set SEGMENTATION_METASTORE_PORT to a free port")
    user = _os_user()
    service = _service(settings)
    base, data, sock = pg_dir(settings), _data_dir(settings), _socket_dir(settings)
    if len(str(sock / f".s.PGSQL.{port}")) > 100:
        raise SegmentationError(f"the PostgreSQL socket path under {sock} is too long for a unix socket; "
                                "use a shorter SEGMENTATION_HOME")
    private_dir(service.run_dir)
    _allow_traverse([private_dir(settings.home), private_dir(service.catalog_home)], user)
    for folder in (base, sock):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        _chown(folder, user)
    if _as_user(user, ["test", "-w", str(base)]).returncode != 0:
        raise SegmentationError(f"OS user {user} cannot reach {base} (a parent folder is private); "
                                "put SEGMENTATION_HOME under a folder other users may traverse")
    log = log_file(settings)
    log.touch(mode=0o600)
    _chown(log, user)

    if not (data / "PG_VERSION").is_file():
        # Local socket: trust (the socket folder is private to the server's user); TCP: password only.
        init = _as_user(user, [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--encoding=UTF8",
                               "--auth-local=trust", "--auth-host=scram-sha-256"])
        if init.returncode != 0:
            raise SegmentationError(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock}"
    started = _as_user(user, [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                              "-w", "-t", "60", "start"])
    if started.returncode != 0:
        raise SegmentationError(f"PostgreSQL did not start; see {log}")
    lines = _postmaster_lines(settings)
    pid_file(settings).write_text(f"{lines[0]}\n" if lines else "")
    _ensure_database(settings, user, port)
    return jdbc_url(port)


def _psql(settings: Settings, user: str | None, port: int, sql: str, db: str = "postgres") -> str:
    """Run SQL through the private socket; the SQL goes to psql's standard input, so no password set by it
    is ever a process argument."""
    result = _as_user(user, [str(PG_BIN / "psql"), "-h", str(_socket_dir(settings)), "-p", str(port),
                             "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-tA"], input=sql)
    if result.returncode != 0:
        raise SegmentationError(f"psql failed: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout.strip()


def _ensure_database(settings: Settings, user: str | None, port: int) -> None:
    """The metastore role (its password set from the home's secret on every start, so a home made by an
    older version with a fixed password gets a random one) and its database."""
    password = secret(_service(settings).secrets_dir, METASTORE_PASSWORD).replace("'", "''")
    exists = _psql(settings, user, port, f"select 1 from pg_roles where rolname = '{METASTORE_USER}'")
    verb = "alter" if exists else "create"
    _psql(settings, user, port, f"{verb} role \"{METASTORE_USER}\" login password '{password}'")
    if not _psql(settings, user, port, f"select 1 from pg_database where datname = '{DB_NAME}'"):
        _psql(settings, user, port, f"create database {DB_NAME} owner \"{METASTORE_USER}\" encoding 'UTF8'")


def stop_metastore(settings: Settings) -> str:
    port = _running_port(settings)
    if port is None:
        pid_file(settings).unlink(missing_ok=True)
        return "PostgreSQL metastore is not running"
    stopped = _as_user(_os_user(), [str(PG_BIN / "pg_ctl"), "-D", str(_data_dir(settings)),
                                    "-m", "fast", "-w", "-t", "60", "stop"])
    if stopped.returncode != 0:
        raise SegmentationError(f"PostgreSQL did not stop: {stopped.stderr.strip()}")
    pid_file(settings).unlink(missing_ok=True)
    return f"PostgreSQL metastore stopped (was on 127.0.0.1:{port})"


def metastore_status(settings: Settings) -> str:
    url = metastore_url(settings)
    if url is None:
        return f"PostgreSQL metastore is not running (data: {_data_dir(settings)})"
    return f"PostgreSQL metastore running at {url} (data: {_data_dir(settings)})"
