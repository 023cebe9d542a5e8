"""Shared setup for the tests that start real servers (Thrift, PostgreSQL, a standalone cluster).

Their warehouse lives in a fresh /tmp folder that other OS users may traverse: under root, PostgreSQL runs
as an unprivileged user and cannot enter pytest's private tmp folders.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from conftest import missing_dependency
from segmentation.config import POSTGRES_JDBC_JAR

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def require_postgres() -> None:
    if not (PG_BIN / "postgres").is_file() or not POSTGRES_JDBC_JAR.is_file():
        missing_dependency("PostgreSQL 15 or its JDBC driver is not installed (run `make system-deps`)")


def service_home(prefix: str) -> Path:
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    home.chmod(0o755)
    return home


def remove_home(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)


def sqlalchemy_url(server, database: str) -> str:  # noqa: ANN001 - a thrift.ThriftServer
    """The SQLAlchemy URI Superset takes for the server (the project's Spark dialect, password login)."""
    from urllib.parse import quote

    password = quote(server.password_file.read_text().strip(), safe="")
    return f"hive+spark://segmentation:{password}@{server.connect_host}:{server.port}/{database}?auth=CUSTOM"


class BiReader:
    """A BI client that runs one query in a loop over PyHive while the test rebuilds the table behind it.

    Every error and every row outside `accepted` (a partial, empty or half-swapped table) is counted, not
    raised, so the test can assert on the totals after the rebuilds.
    """

    def __init__(self, server, sql: str, accepted: set[tuple]) -> None:  # noqa: ANN001 - a thrift.ThriftServer
        self.server, self.sql, self.accepted = server, sql, accepted
        self.queries = 0
        self.failures: list[str] = []
        self.wrong: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        conn = self.server.connect()
        cursor = conn.cursor()
        while not self._stop.is_set():
            try:
                cursor.execute(self.sql)
                row = tuple(cursor.fetchall()[0])
                if row not in self.accepted:
                    self.wrong.append(row)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                self.failures.append(repr(exc)[:300])
            self.queries += 1
        conn.close()

    def __enter__(self) -> BiReader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
