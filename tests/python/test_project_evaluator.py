"""dbt Labs' dbt-project-evaluator finds nothing on this project (scripts/project_evaluator.py: the vendored
package on a scratch copy, exceptions with their reasons in checks/dbt_project_evaluator_exceptions.csv)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_dbt_project_evaluator_passes():
    done = subprocess.run([sys.executable, str(PROJECT_DIR / "scripts" / "project_evaluator.py")],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " 0 not " in done.stdout
