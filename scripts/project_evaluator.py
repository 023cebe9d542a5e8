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


SHOW_ROWS = """
import json, sys
from segmentation.config import Settings
from segmentation.spark import build_session
spark = build_session(Settings.from_env(), "evaluator-findings")
for unique_id, sql in json.loads(sys.argv[1]):
    print(unique_id)
    for row in spark.sql(sql).limit(20).collect():
        print("    " + " | ".join(f"{key}={value}" for key, value in row.asDict().items() if value is not None))
"""


def finding_rows_sql(root: Path, test_id: str) -> str:
    """The rows behind an evaluator test: its fct_ model's rows (the test itself only counts them)."""
    nodes = json.loads((root / "target" / "manifest.json").read_text())["nodes"]
    parents = [nodes[parent] for parent in nodes[test_id]["depends_on"]["nodes"] if parent in nodes]
    return f"select * from {parents[0]['relation_name']}" if parents else nodes[test_id]["compiled_code"]


def prepare(root: Path) -> None:
    (root / "packages.yml").write_text(
        "packages:\n  - local: vendor/dbt_utils\n  - local: vendor/dbt_project_evaluator\n"
    )
    project = (root / "dbt_project.yml").read_text()
    project = project.replace("\nvars:\n", "\nvars:\n"
        "  # The evaluator counts these as primary-key tests (ours is the root project's own generic test).\n"
        "  primary_key_test_macros: [['dbt.test_unique', 'dbt.test_not_null'],"
        " ['segmentation.test_unique_combination_of_columns']]\n"
        "  # Every model has a data test except two line views, int_transaction_lines_classified and _priced:\n"
        "  # their rules are tested on int_transaction_lines_matched, the table that materialises them (a test on\n"
        "  # the view would recompute the line chain on every line); 55 of 57 models.\n"
        "  test_coverage_target: 96\n", 1)
    project = project.replace("\nseeds:\n", "\nseeds:\n  dbt_project_evaluator:\n"
                              "    dbt_project_evaluator_exceptions:\n      +enabled: false\n", 1)
    project += EXTRA_PROJECT_CONFIG
    (root / "dbt_project.yml").write_text(project)
    # Our exceptions as a seed of the root project, in place of the package's own (empty) one, which the
    # package ignores exceptions from (its README, "Exceptions").
    shutil.copy2(EXCEPTIONS, root / "seeds" / "dbt_project_evaluator_exceptions.csv")


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
        failing = [(p["unique_id"], finding_rows_sql(root, p["unique_id"])) for p in problems
                   if p["unique_id"].startswith("test.") and p["status"] in ("warn", "fail")]
        if failing:  # the rows behind each finding, from one Spark session (a dbt show each costs ~12 s)
            shown = run([sys.executable, "-c", SHOW_ROWS, json.dumps(failing)], root, home)
            print(shown.stdout.rstrip(), shown.stderr[-2000:] if shown.returncode else "")
        passed = sum(r["status"] in ("success", "pass") for r in results)
        print(f"dbt-project-evaluator: {passed} passed, {len(problems)} not (dbt exit {built.returncode})")
        return 0 if not problems and built.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
