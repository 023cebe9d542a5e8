"""The fixed cost with a warm JVM: the pipeline on the harness's 1,000-row input, run again and again in one
warehouse with `--target local` (every run starts the JVM that runs dbt's SQL) and with `--target thrift`
through one Spark Thrift Server that stays up between runs, as a BI deployment keeps it.

    python -m bench.warm_thrift --out bench/results/step11_warm_thrift [--runs 3]

Not part of `segmentation bench`: it needs PostgreSQL (`make system-deps`) and takes about 15 minutes. Each
run's peak RSS and CPU are its own process tree's; the server's CPU during the run is recorded apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.harness import OVERHEAD_ROWS, Bench
from segmentation.config import Settings
from segmentation.service import thrift
from segmentation.service._proc import free_port

STAGES = ("spark session", "ingest", "dbt run (to customer_rfm)", "train clusters", "dbt run (cluster marts)")


def row(run: int, measured: Any, figures: dict[str, Any], server_cpu_s: float | None) -> dict:
    stages = figures.get("stage_seconds", {})
    tests = stages.get("dbt test", 0.0)
    return {
        "target": figures.get("target"),  # as the run's summary reports it
        "run": run,
        "status": measured.status,
        "wall_s": measured.wall_s,
        "without_tests_s": round(measured.wall_s - tests, 1),
        "tests_s": tests,
        "cpu_s": measured.cpu_s,
        "server_cpu_s": server_cpu_s,
        "peak_rss_mb": measured.peak_rss_mb,
        "customers": figures.get("customers"),
        "total_monetary": figures.get("total_monetary"),
        "stages": {name: stages.get(name) for name in STAGES},
        "log": measured.log,
    }


def markdown(record: dict[str, Any]) -> str:
    lines = [
        f"# Fixed cost with a warm JVM ({OVERHEAD_ROWS:,} rows, `--data-tests after`), {record['started_at']}",
        "",
        f"Thrift server start (metastore included): {record['thrift_start_s']} s, outside the runs.",
        "",
        "| target | run | status | wall s | without tests s | tests s | CPU s | server CPU s | peak RSS MiB | "
        + " | ".join(f"{s} s" for s in STAGES)
        + " | customers | total monetary |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(STAGES) + "---:|---:|",
    ]
    for r in record["runs"]:
        cells = [r["target"], r["run"], r["status"], r["wall_s"], r["without_tests_s"], r["tests_s"], r["cpu_s"],
                 r["server_cpu_s"] if r["server_cpu_s"] is not None else "", r["peak_rss_mb"],
                 *[r["stages"][s] for s in STAGES], r["customers"], r["total_monetary"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3, help="runs per target (the first warms the warehouse)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    bench = Bench(settings, args.out)
    tiny, _ = bench.dataset(str(OVERHEAD_ROWS))
    record: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "runs": []}

    local_home = bench.cache / "home_warm_local"
    shutil.rmtree(local_home, ignore_errors=True)
    for run in range(1, args.runs + 1):
        measured, figures = bench.run_pipeline(tiny, f"tiny_local_{run}", home=local_home, target="local",
                                               read_marts=False)
        record["runs"].append(row(run, measured, figures, None))

    # PostgreSQL runs as an unprivileged user when this runs as root: its home must be traversable.
    home = Path(tempfile.mkdtemp(prefix="seg_warm_thrift_", dir="/tmp"))
    home.chmod(0o755)
    served = Settings.from_env(home=home, project_dir=settings.project_dir)
    port, metastore_port = free_port(), free_port()
    env = {"SEGMENTATION_THRIFT_HOST": "127.0.0.1",
           "SEGMENTATION_THRIFT_PORT": str(port), "SEGMENTATION_METASTORE_PORT": str(metastore_port)}
    try:
        started = time.perf_counter()
        thrift.start_thrift(served, host="127.0.0.1", port=port, metastore_port=metastore_port)
        record["thrift_start_s"] = round(time.perf_counter() - started, 1)
        server = psutil.Process(thrift.running_server(served).pid)  # type: ignore[union-attr]
        for run in range(1, args.runs + 1):
            before = sum(server.cpu_times()[:2])
            measured, figures = bench.run_pipeline(tiny, f"tiny_thrift_{run}", home=home, extra_env=env,
                                                   read_marts=False, target="thrift")
            server_cpu = round(sum(server.cpu_times()[:2]) - before, 1)
            record["runs"].append(row(run, measured, figures, server_cpu))
    finally:
        print(thrift.stop_thrift(served))
        shutil.rmtree(home, ignore_errors=True)
    (args.out / "results.json").write_text(json.dumps(record, indent=1, default=str))
    (args.out / "results.md").write_text(markdown(record))
    print(markdown(record))
    if failed := [f"{r['target']} run {r['run']}: {r['log']}" for r in record["runs"] if r["status"] != "ok"]:
        raise SystemExit("runs that failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
