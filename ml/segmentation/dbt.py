"""Run dbt in this process (dbtRunner), so that with the local target dbt reuses the pipeline's
SparkSession instead of starting a JVM of its own."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from segmentation.config import Settings
from segmentation.errors import SegmentationError


@dataclass
class DbtStepResult:
    command: list[str]
    success: bool
    node_timings: dict[str, float]
    failures: list[str]


def run_dbt(settings: Settings, args: list[str], *, vars_: dict | None = None) -> DbtStepResult:
    """Invoke dbt with the project's own profiles.yml and target; raise on failure with the failing nodes."""
    from dbt.cli.main import dbtRunner

    settings.export_env()
    command = [
        *args,
        "--project-dir",
        str(settings.project_dir),
        "--profiles-dir",
        str(settings.project_dir),
        "--target",
        settings.target,
    ]
    if vars_:
        command += ["--vars", json.dumps(vars_)]
    with _shuffle_partitions_env(settings.shuffle_partitions):
        result = dbtRunner().invoke(command)
    timings: dict[str, float] = {}
    failures: list[str] = []
    for node in getattr(result.result, "results", None) or []:
        unique_id = getattr(getattr(node, "node", None), "unique_id", str(node))
        timings[unique_id] = float(getattr(node, "execution_time", 0.0) or 0.0)
        status = str(getattr(node, "status", "")).lower()
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{unique_id}: {getattr(node, 'message', '')}")
    step = DbtStepResult(command=command, success=bool(result.success), node_timings=timings, failures=failures)
    if not result.success:
        detail = "; ".join(failures) or str(result.exception or "see dbt output above")
        raise SegmentationError(f"dbt {' '.join(args)} failed: {detail}")
    return step


@contextmanager
def _shuffle_partitions_env(partitions: int | None) -> Iterator[None]:
    """profiles.yml reads the session target's shuffle partitions from the environment; a count the
    pipeline sized from its input holds for this invocation only, not for later ones in the process."""
    name = "SEGMENTATION_SHUFFLE_PARTITIONS"
    before = os.environ.get(name)
    if partitions:
        os.environ[name] = str(partitions)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before

