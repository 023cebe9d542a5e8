"""A scratch copy of the project for the checks that change it (run_mutants.py, project_evaluator.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def copy_project(destination: Path) -> None:
    """The working tree as git sees it: tracked files and new ones git does not ignore."""
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = subprocess.run(listing, cwd=PROJECT_DIR, capture_output=True, check=True)
    for name in tracked.stdout.decode().split("\0"):
        if not name or not (PROJECT_DIR / name).is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_DIR / name, target)
