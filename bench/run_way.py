"""Run one benchmark way in this process and write its summary as JSON; the harness
(`bench.harness`) starts it as a separate process so that its whole process tree (the JVM
included) can be measured on its own.

    python -m bench.run_way --way floor|session|pipeline_results|fingerprint --out result.json [--data ...]

`pipeline_results` reads the figures the pipeline left in marts.customer_rfm (in $SEGMENTATION_HOME)
so that the harness can check that all ways agree. `fingerprint --source pipeline|floor` reads the
tables a way wrote (bench/tables.py) after it has finished, so that reading them is never part of its time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def expand(paths: list[str]) -> list[str]:
    """A folder stands for its CSV part files, in name order."""
    files: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(str(f) for f in p.iterdir() if f.name.endswith((".csv", ".csv.gz")))
        else:
            files.append(str(p))
    return files


def pipeline_figures(spark) -> dict[str, object]:  # noqa: ANN001 - a SparkSession
    """customers, total monetary (exact, via cents) and segment counts from marts.customer_rfm."""
    from pyspark.sql import functions as F

    rfm = spark.table("marts.customer_rfm")
    segment = next(c for c in ("rfm_segment", "segment", "segment_name") if c in rfm.columns)
    rows = (
        rfm.groupBy(segment)
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(F.round(F.col("monetary") * 100).cast("bigint")).alias("cents"),
        )
        .collect()
    )
    return {
        "customers": sum(int(r["n"]) for r in rows),
        "total_monetary": sum(int(r["cents"] or 0) for r in rows) / 100,
        "segment_counts": {r[segment]: int(r["n"]) for r in sorted(rows, key=lambda r: str(r[segment]))},
    }


def table_fingerprints(spark, source: str) -> dict[str, object]:  # noqa: ANN001
    """reference/fingerprints.py of the tables `source` wrote: the pipeline's in this warehouse, the
    floor's in its floor_* schemas."""
    from reference.fingerprints import fingerprints, in_warehouse
    from reference.floor import FLOOR_PREFIX

    return fingerprints(spark, in_warehouse(spark, FLOOR_PREFIX if source == "floor" else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--way", required=True, choices=["floor", "session", "pipeline_results", "fingerprint"]
    )
    parser.add_argument("--source", choices=["pipeline", "floor"], default="pipeline")
    parser.add_argument("--data", nargs="*", default=[])
    parser.add_argument("--out", required=True)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of-date", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    summary: dict[str, object] = {"way": args.way}
    try:
        from segmentation.config import Settings
        from segmentation.spark import build_session

        spark = build_session(Settings.from_env(), f"bench-{args.way}")
        if args.way == "session":  # fixed overhead: JVM start plus one trivial job
            summary["rows"] = spark.range(1).count()
        elif args.way == "pipeline_results":
            summary.update(pipeline_figures(spark))
        elif args.way == "fingerprint":
            summary["tables"] = table_fingerprints(spark, args.source)
        else:
            from reference.floor import run_floor

            # The floor loads the same files itself (the project's ingest): a folder stays a folder.
            result = run_floor(spark, args.data, k=args.k, seed=args.seed, as_of_date=args.as_of_date)
            summary.update(result.summary())
        spark.stop()
        summary["status"] = "ok"
    except MemoryError:
        summary["status"] = "out_of_memory"
    summary["inner_seconds"] = round(time.perf_counter() - started, 3)
    out.write_text(json.dumps(summary, indent=1, default=str))
    return 0 if summary["status"] == "ok" else 3


if __name__ == "__main__":
    sys.exit(main())
