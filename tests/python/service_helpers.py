"""Shared setup for the tests that start real servers (Thrift, PostgreSQL, a standalone cluster).

Their warehouse lives in a fresh /tmp folder that other OS users may traverse: under root, PostgreSQL runs
as an unprivileged user and cannot enter pytest's private tmp folders.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from segmentation.config import POSTGRES_JDBC_JAR

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def require_postgres() -> None:
    if not (PG_BIN / "postgres").is_file() or not POSTGRES_JDBC_JAR.is_file():
        pytest.skip("PostgreSQL 15 or its JDBC driver is not installed (run `make system-deps`)")


def service_home(prefix: str) -> Path:
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    home.chmod(0o755)
    return home


def remove_home(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
