"""Small process helpers shared by the service modules: pid files, ports, Spark's own scripts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from segmentation.errors import SegmentationError


def spark_home() -> Path:
    """The pip-installed pyspark doubles as a Spark distribution (bin/spark-submit, bin/spark-class)."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


def spark_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SPARK_HOME"] = str(spark_home())
    # Everything Spark binds (RPC, block manager, web UIs) stays on loopback.
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env.update(extra)
    return env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_matches(pid: int | None, marker: str) -> bool:
    """True when pid is alive and its command line contains marker, so a recycled pid is never ours."""
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and marker in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def launch(command: Sequence[str], log_file: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a background server in its own session (so the CLI can exit and a Ctrl-C does not reach it)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after timeout, for one process and the children it spawned."""
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    family = [proc, *proc.children(recursive=True)]
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=5)


def wait_until(check: Callable[[], bool], timeout: float, what: str, log_file: Path | None = None,
               alive: Callable[[], bool] | None = None, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise SegmentationError(f"{what}: the process exited early; see {log_file}{last_error(log_file)}")
        time.sleep(interval)
    raise SegmentationError(f"{what}: not ready after {timeout:.0f}s; see {log_file}{last_error(log_file)}")


def last_error(log_file: Path | None) -> str:
    """The last ERROR/Exception line of a server log, so the one-line error says why."""
    if log_file is None or not log_file.is_file():
        return ""
    lines = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Exception" in line or "FATAL" in line]
    picked = (errors or lines or [""])[-1].strip()
    return f" (last: {picked[:300]})" if picked else ""
