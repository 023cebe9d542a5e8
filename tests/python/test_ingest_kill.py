"""A killed ingest loses nothing, a second writer is refused, and the ingest's own JVM listens on loopback
only with no secret in its command line. Real processes: `segmentation ingest` in a home of its own,
killed with SIGKILL (JVM included) while Spark writes the new rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from service_helpers import remove_home, service_home

pytestmark = pytest.mark.slow
PROJECT_DIR = Path(__file__).resolve().parents[2]
SEGMENTATION = str(Path(sys.executable).parent / "segmentation")
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
COUNT_ROWS = (
    "from segmentation.config import Settings\n"
    "from segmentation.spark import build_session\n"
    "spark = build_session(Settings.from_env(), 'count')\n"
    "print('ROWS', spark.table('raw.transactions').count())\n"
)


def _csv(path: Path, rows: int, offset: int = 0) -> Path:
    with path.open("w") as out:
        out.write(HEADER + "\n")
        for i in range(offset, offset + rows):
            out.write(f"{536000 + i},A{i % 97},WHITE HANGING HEART,{1 + i % 9},2011-0{1 + i % 9}-02 10:00:00,"
                      f"{1 + i % 5}.5,{12000 + i % 400},United Kingdom\n")
    return path


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "SEGMENTATION_HOME": str(home), "SEGMENTATION_PROJECT_DIR": str(PROJECT_DIR),
           "SEGMENTATION_DRIVER_MEMORY": "1g", "PYTHONUNBUFFERED": "1"}
    env.pop("SPARK_LOCAL_IP", None)  # the project must bind to loopback by itself
    return env


def _rows(env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT_ROWS], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(next(x for x in done.stdout.splitlines() if x.startswith("ROWS ")).split()[1])


def _jvm_of(proc: subprocess.Popen) -> psutil.Process | None:
    children = psutil.Process(proc.pid).children(recursive=True)
    return next((c for c in children if c.name() == "java"), None)


def test_killed_ingest_keeps_every_old_row_and_a_second_writer_is_refused(tmp_path):
    home = service_home("seg_ingest_kill_")
    try:
        env = _env(home)
        base = _csv(tmp_path / "base.csv", 2_000)
        done = subprocess.run([SEGMENTATION, "ingest", str(base)], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        big = _csv(tmp_path / "big.csv", 1_000_000, offset=10_000)
        victim = subprocess.Popen([SEGMENTATION, "ingest", "--replace-all", str(big)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True)
        batches = home / "spark-warehouse" / "raw.db" / "_batches"
        deadline = time.monotonic() + 240
        writing = None
        while time.monotonic() < deadline and victim.poll() is None:
            writing = next(iter(batches.glob("*/_temporary")), None) if batches.is_dir() else None
            if writing is not None:
                break
            time.sleep(0.05)
        assert writing is not None, "the ingest never reached its write"

        # While it writes: a second writer is refused in one line naming the holder.
        second = subprocess.run([SEGMENTATION, "ingest", str(base)], env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        message = second.stderr.strip()
        assert len(message.splitlines()) == 1, message
        assert f"pid {victim.pid} (segmentation ingest --replace-all {big}" in message

        # Its JVM: listeners on loopback only (driver, block manager, web UI), no secret in its arguments.
        jvm = _jvm_of(victim)
        assert jvm is not None
        listening = [c.laddr for c in jvm.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening, "the JVM has its driver and UI ports open"
        assert all(addr.ip in ("127.0.0.1", "::ffff:127.0.0.1", "::1") for addr in listening), listening
        assert "Password" not in " ".join(jvm.cmdline())

        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=60)
        assert _rows(env) == 2_000  # nothing of the old rows was lost

        # The next writer collects the interrupted batch and works.
        small = _csv(tmp_path / "small.csv", 10, offset=5_000)
        done = subprocess.run([SEGMENTATION, "ingest", str(small)], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert "rows of an ingest that never became visible" in done.stdout
        assert _rows(env) == 2_010
        assert [p.name for p in batches.iterdir()].__len__() == 2  # the two live batches, nothing else
        assert (home.stat().st_mode & 0o077) == 0 and (home / "run" / "spark.log").stat().st_mode & 0o077 == 0
    finally:
        remove_home(home)
