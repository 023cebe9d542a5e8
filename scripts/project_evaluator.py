"""dbt Labs' dbt-project-evaluator on this project (`make evaluate`, and tests/python/test_project_evaluator.py).

The evaluator and dbt-utils are vendored under vendor/ (each with its licence: dbt's package hub is out of
reach here). They are not packages of the product: the evaluator's dispatch setting overrides dbt's own
macros, and a packages.yml would make every user run `dbt deps` first. So this script copies the project
(the files git tracks) to a scratch folder, adds the two packages as `local:` packages, the dispatch setting
its README gives for Spark, our exceptions (checks/dbt_project_evaluator_exceptions.csv, each with its
reason, in place of the package's empty seed) and the primary-key test macros this project uses, then
runs `dbt deps` and `dbt build --select package:dbt_project_evaluator` on the session target with a scratch
warehouse.

Exit 0 when every evaluator test passes; otherwise each failing rule is listed with its rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scratch_copy import PROJECT_DIR, copy_project

BIN = Path(sys.executable).parent
EXCEPTIONS = PROJECT_DIR / "checks" / "dbt_project_evaluator_exceptions.csv"

EXTRA_PROJECT_CONFIG = """
# Added by scripts/project_evaluator.py for the check only.
dispatch:
  - macro_namespace: dbt
    search_order: ['dbt_project_evaluator', 'dbt']
"""


def prepare(root: Path) -> None:
    (root / "packages.yml").write_text(
        "packages:\n  - local: vendor/dbt_utils\n  - local: vendor/dbt_project_evaluator\n"
    )
    project = (root / "dbt_project.yml").read_text()
    project = project.replace("\nvars:\n", "\nvars:\n"
        "  # The evaluator counts these as primary-key tests (ours is the root project's own generic test).\n"
        "  primary_key_test_macros: [['dbt.test_unique', 'dbt.test_not_null'],"
        " ['segmentation.test_unique_combination_of_columns']]\n", 1)
    project += EXTRA_PROJECT_CONFIG
    (root / "dbt_project.yml").write_text(project)
    # The package's own (empty) exceptions seed, replaced in the scratch copy by ours.
    seeds = root / "vendor" / "dbt_project_evaluator" / "seeds"
    shutil.copy2(EXCEPTIONS, seeds / "dbt_project_evaluator_exceptions.csv")


def run(command: list[str], root: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGMENTATION_HOME": str(home), "SEGMENTATION_PROJECT_DIR": str(root),
           "SEGMENTATION_TARGET": "local", "SPARK_LOCAL_IP": "127.0.0.1", "SEGMENTATION_SHUFFLE_PARTITIONS": "2"}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="seg_evaluator_") as scratch:
        root, home = Path(scratch) / "project", Path(scratch) / "home"
        home.mkdir(mode=0o700)
        copy_project(root)
        prepare(root)
        flags = ["--profiles-dir", ".", "--project-dir", ".", "--target", "local"]
        deps = run([str(BIN / "dbt"), "deps", *flags], root, home)
        if deps.returncode != 0:
            print(deps.stdout[-3000:], deps.stderr[-3000:], file=sys.stderr)
            return 2
        built = run([str(BIN / "dbt"), "build", "--select", "package:dbt_project_evaluator",
                     "dbt_project_evaluator_exceptions", *flags], root, home)
        results = json.loads((root / "target" / "run_results.json").read_text())["results"]
        problems = [r for r in results if r["status"] not in ("success", "pass")]
        for problem in problems:
            print(f"{problem['status'].upper()} {problem['unique_id']}: {problem.get('message') or ''}")
            if problem["unique_id"].startswith("test."):
                compiled = problem.get("compiled_code") or ""
                if compiled:
                    shown = run([str(BIN / "dbt"), "show", "--inline", compiled, "--limit", "20", *flags],
                                root, home)
                    print("    " + shown.stdout.strip().replace("\n", "\n    ")[-4000:])
        passed = sum(r["status"] in ("success", "pass") for r in results)
        print(f"dbt-project-evaluator: {passed} passed, {len(problems)} not (dbt exit {built.returncode})")
        return 0 if not problems and built.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
