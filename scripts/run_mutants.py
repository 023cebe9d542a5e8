"""`make mutants`: break each rule once and show that its fast tests fail.

Each mutant is a one-line change to one rule (scripts/mutants.py). For each, a copy of the project (the files git
tracks) gets the change, and the rule's fast check runs on the copy:
- SQL rules: the dbt unit tests (`dbt test --select test_type:unit`), against a warehouse already built by
  `segmentation run` (dbt reads the input tables' column types from it; nothing is written to it);
- seed rules: the seed is loaded from the copy and its singular test runs; the original seed is loaded back;
- Python rules: the rule's pytest module, with the copy's packages first on PYTHONPATH.
The unchanged copy must pass every check first (otherwise a failing check would "catch" every mutant).
A mutant is caught when its check fails. Results go to docs/mutants.md; the exit code is 1 when a
mutant survives or the baseline fails.

    SEGMENTATION_HOME=<a built warehouse> .venv/bin/python scripts/run_mutants.py [--only ID ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mutants import MUTANTS, Mutant
from scratch_copy import PROJECT_DIR, copy_project

RESULTS = PROJECT_DIR / "docs" / "mutants.md"
BIN = Path(sys.executable).parent
DBT_FLAGS = ["--profiles-dir", ".", "--project-dir", ".", "--target", "local", "--quiet"]


@dataclass
class Outcome:
    mutant: Mutant
    caught: bool
    seconds: float
    evidence: str


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.file
    text = path.read_text()
    found = text.count(mutant.old)
    if found == 0 or (found > 1 and not mutant.every):
        raise SystemExit(f"mutant {mutant.id}: {mutant.old!r} occurs {found} times in {mutant.file}")
    path.write_text(text.replace(mutant.old, mutant.new))


def environment(root: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SEGMENTATION_HOME": str(home),
        "SEGMENTATION_PROJECT_DIR": str(root),
        "SEGMENTATION_TARGET": "local",
        "PYTHONPATH": os.pathsep.join([str(root / "ml"), str(root), str(root / "tests" / "python")]),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def run(command: list[str], root: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=root, env=environment(root, home), capture_output=True, text=True)


def check(mutant: Mutant, root: Path, home: Path) -> subprocess.CompletedProcess:
    if mutant.kind == "pytest":
        return run([str(BIN / "python"), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                    "-o", "addopts=", mutant.check], root, home)
    if mutant.kind == "seed":
        seeded = run([str(BIN / "dbt"), "seed", "--select", mutant.check_seed, *DBT_FLAGS], root, home)
        if seeded.returncode != 0:
            return seeded
    return run([str(BIN / "dbt"), "test", "--select", mutant.check, *DBT_FLAGS], root, home)


def evidence(done: subprocess.CompletedProcess) -> str:
    """The failing dbt tests by name, or pytest's first assertion line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # dbt colours its failures
    lines = [re.sub(r"^\d\d:\d\d:\d\d\s+", "", line.strip()) for line in text.splitlines()]
    failed = re.findall(r"^(?:Failure|Error) in (?:unit_test|test) (\S+)", "\n".join(lines), flags=re.M)
    if failed:
        return ", ".join(dict.fromkeys(failed))[:300]
    lines = [line for line in lines if line and not line.startswith("WARNING: Using incubator")]  # the JVM's
    telling = [line for line in lines if line.startswith(("FAILED", "ERROR", "E "))]
    return (telling[0] if telling else (lines[-1] if lines else ""))[:160].replace("|", "/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="mutant ids to run (default: all)")
    args = parser.parse_args()
    home = Path(os.environ.get("SEGMENTATION_HOME", PROJECT_DIR / ".warehouse")).resolve()
    if not (home / "metastore_db").is_dir():
        print(f"no built warehouse at {home}: run `make run` (or `segmentation run`) first", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]

    with tempfile.TemporaryDirectory(prefix="seg_mutants_") as scratch:
        clean = Path(scratch) / "clean"
        copy_project(clean)
        baseline_failed = []
        for command_check in sorted({(m.kind, m.check, m.check_seed) for m in chosen}):
            probe = Mutant("baseline", command_check[0], "", "", "", "", command_check[1], "",
                           check_seed=command_check[2])
            done = check(probe, clean, home)
            print(f"baseline {command_check[1]}: {'pass' if done.returncode == 0 else 'FAIL'}", flush=True)
            if done.returncode != 0:
                baseline_failed.append((command_check[1], evidence(done)))
        if baseline_failed:
            print(f"the unchanged project fails its checks: {baseline_failed}", file=sys.stderr)
            return 1

        outcomes: list[Outcome] = []
        for mutant in chosen:
            root = Path(scratch) / mutant.id
            copy_project(root)
            apply(mutant, root)
            started = time.monotonic()
            done = check(mutant, root, home)
            outcome = Outcome(mutant, done.returncode != 0, time.monotonic() - started, evidence(done))
            outcomes.append(outcome)
            print(f"{mutant.id}: {'caught' if outcome.caught else 'SURVIVED'} in {outcome.seconds:.0f}s "
                  f"- {outcome.evidence}", flush=True)
            shutil.rmtree(root, ignore_errors=True)
        # Seeds were reloaded from mutated copies: load the unchanged ones back.
        for seed in sorted({m.check_seed for m in chosen if m.kind == "seed"}):
            run([str(BIN / "dbt"), "seed", "--select", seed, *DBT_FLAGS], clean, home)

    write_results(outcomes, len(MUTANTS) == len(chosen))
    return 0 if all(o.caught for o in outcomes) else 1


def write_results(outcomes: list[Outcome], complete: bool) -> None:
    if not complete:
        return  # a partial run does not overwrite the committed record
    caught = sum(o.caught for o in outcomes)
    lines = [
        "# Mutants: each rule broken once",
        "",
        f"Written by `make mutants` ({time.strftime('%Y-%m-%d')}): {caught} of {len(outcomes)} caught. "
        "The unchanged project passed every check first.",
        "",
        "| id | rule (SPEC) | file | one-line change | check | result | seconds | first failure |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        m = o.mutant
        lines.append(
            f"| {m.id} | {m.rule} | `{m.file}` | {m.describe} | `{m.check}` | "
            f"{'caught' if o.caught else '**survived**'} | {o.seconds:.0f} | {o.evidence} |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
