"""One writer per warehouse home.

Writing commands (`run`, `ingest`, `score`, `compare`, `classify`) hold an exclusive lock on
`<home>/run/writer.lock` for their whole run; a second writer is refused in one line that names the
holder. The lock is an flock on an open file, so it dies with its process (kill -9 included) and a stale
file never blocks anyone. Readers (the Thrift server's BI clients, `dbt show` on the thrift target,
`thrift status`) take no lock. Re-entrant within one process: `run` calls library steps that lock too.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segmentation.errors import SegmentationError

LOCK_FILE = "writer.lock"

_held: dict[Path, tuple[int, int]] = {}  # lock path -> (fd, depth)


def lock_path(run_dir: Path) -> Path:
    return run_dir / LOCK_FILE


def holder(run_dir: Path) -> str | None:
    """'pid N (command, since T)' of a live holder other than this process, else None."""
    path = lock_path(run_dir)
    if path in _held or not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _describe(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _describe(path: Path) -> str:
    try:
        pid, started, command = path.read_text().split("\t", 2)
        return f"pid {pid} ({command.strip()}, since {started})"
    except (OSError, ValueError):
        return "another process"


@contextmanager
def writer_lock(run_dir: Path, command: str) -> Iterator[None]:
    """Hold the home's writer lock; raise a one-line SegmentationError when another process holds it."""
    path = lock_path(run_dir)
    if path in _held:
        fd, depth = _held[path]
        _held[path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[path]
            _held[path] = (fd, depth - 1)
        return
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SegmentationError(
            f"another segmentation command is writing to {run_dir.parent}: {_describe(path)}; "
            "wait for it to finish"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\t{time.strftime('%Y-%m-%d %H:%M:%S')}\t{command}\n".encode())
    _held[path] = (fd, 1)
    try:
        yield
    finally:
        _, depth = _held[path]
        if depth <= 1:
            del _held[path]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        else:
            _held[path] = (fd, depth - 1)


def held_here(run_dir: Path) -> bool:
    return lock_path(run_dir) in _held


def command_line() -> str:
    """What the lock file records as the holder's command."""
    return " ".join(["segmentation", *sys.argv[1:]])[:200]
