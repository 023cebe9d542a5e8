"""Benchmark harness: the pipeline against the hand-written PySpark reference (the floor).

For each size it generates data once (cached under bench/.cache/), runs each way in its own process
and samples that process tree (the JVM included) for peak RSS and CPU time, then checks that all ways
agree on customers, total monetary and segment counts. Results go to JSON, a Markdown table and a
PNG plot of time against rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from segmentation.config import Settings, shuffle_partitions_for
from segmentation.errors import SegmentationError

WAYS = ("pipeline", "floor")
GENERATOR_SEED = 7
POLL_SECONDS = 0.2


@dataclass
class Measured:
    status: str  # ok | failed | out_of_memory | killed | timeout | unavailable
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    returncode: int | None = None
    log: str | None = None


@dataclass
class WayResult:
    way: str
    rows: int
    measured: Measured
    rows_per_s: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def parse_sizes(rows: str) -> list[str]:
    tokens = [t.strip() for t in rows.split(",") if t.strip()]
    if not tokens:
        raise SegmentationError("--rows needs at least one size, e.g. 1e6,1e7")
    for token in tokens:
        if not Path(token).exists():
            try:
                if int(float(token)) < 1:
                    raise ValueError
            except ValueError:
                raise SegmentationError(
                    f"--rows: {token!r} is neither a row count nor an existing file"
                ) from None
    return tokens


def parse_ways(ways: str) -> list[str]:
    chosen = [w.strip() for w in ways.split(",") if w.strip()]
    unknown = sorted(set(chosen) - set(WAYS))
    if unknown or not chosen:
        raise SegmentationError(f"--ways: unknown {unknown}; choose from {','.join(WAYS)}")
    return chosen


def measure(
    cmd: list[str],
    *,
    env: dict[str, str] | None,
    cwd: Path,
    log: Path,
    timeout_s: float,
    memory_cap: int | None = None,
) -> Measured:
    """Run `cmd`, sampling RSS and CPU of its whole process tree; peak RSS is the largest sum seen."""
    cpu_seen: dict[int, float] = {}
    peak = 0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)

    def cap() -> None:  # runs in the child: a MemoryError there beats the kernel's OOM killer
        if memory_cap:
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))

    started = time.perf_counter()
    with log.open("w") as out:
        proc = psutil.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=cap if memory_cap else None,
        )
        timed_out = False
        while proc.poll() is None:
            total = 0
            try:
                tree = [proc, *proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for p in tree:
                try:
                    total += p.memory_info().rss
                    times = p.cpu_times()
                    cpu_seen[p.pid] = times.user + times.system
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            peak = max(peak, total)
            if time.perf_counter() - started > timeout_s:
                timed_out = True
                for p in reversed(tree):  # only the processes this harness started
                    with contextlib.suppress(psutil.NoSuchProcess):
                        p.kill()
                proc.wait()
                break
            time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    code = proc.returncode
    if timed_out:
        status = "timeout"
    elif code == 0:
        status = "ok"
    elif code == 3:
        status = "out_of_memory"
    elif code is not None and code < 0:
        status = "killed"
    else:
        status = "failed"
    return Measured(
        status=status,
        wall_s=round(wall, 3),
        cpu_s=round(max(waited_cpu, sum(cpu_seen.values())), 3),
        peak_rss_mb=round(peak / 2**20, 1),
        returncode=code,
        log=str(log),
    )


OVERHEAD_ROWS = 1_000


class Bench:
    def __init__(self, settings: Settings, out_dir: Path) -> None:
        self.settings = settings
        self.project = settings.project_dir
        self.cache = self.project / "bench" / ".cache"
        self.out_dir = out_dir
        self.logs = out_dir / "logs"
        self.timeout_s = float(os.environ.get("SEGMENTATION_BENCH_TIMEOUT", 6 * 3600))
        for folder in (self.cache, self.out_dir, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.bin = Path(sys.executable).parent

    def env(self, home: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["SEGMENTATION_HOME"] = str(home)
        env["SEGMENTATION_PROJECT_DIR"] = str(self.project)
        return env

    def dataset(self, token: str) -> tuple[Path, int | None]:
        """A cached generated folder for a row count, or the given file as it is."""
        if Path(token).exists():
            return Path(token).resolve(), None
        rows = int(float(token))
        folder = self.cache / f"rows_{rows}_seed_{GENERATOR_SEED}"
        done = self.cache / f"rows_{rows}_seed_{GENERATOR_SEED}.done"
        if not done.is_file():
            try:
                from segmentation.generate import generate
            except ImportError as exc:
                raise SegmentationError(f"the data generator is not available ({exc})") from None
            generate(folder, rows=rows, seed=GENERATOR_SEED, with_rejects=False)
            done.write_text(dt.datetime.now(dt.UTC).isoformat())
        return folder, rows

    def run_way(self, way: str, data: Path, tag: str, rows: int | None = None) -> tuple[Measured, dict[str, Any]]:
        result_file = self.cache / f"result_{way}_{tag}.json"
        result_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "bench.run_way", "--way", way, "--out", str(result_file), "--k", "4"]
        if data:
            cmd += ["--data", str(data)]
        home = self.cache / f"home_{way}"
        shutil.rmtree(home, ignore_errors=True)  # a fresh warehouse, as the pipeline gets
        env = self.env(home=home)
        if rows and "SEGMENTATION_SHUFFLE_PARTITIONS" not in env:
            # The floor gets the shuffle partition count the pipeline sizes from the same rows.
            env["SEGMENTATION_SHUFFLE_PARTITIONS"] = str(shuffle_partitions_for(rows))
        measured = measure(
            cmd,
            env=env,
            cwd=self.project,
            log=self.logs / f"{way}_{tag}.log",
            timeout_s=self.timeout_s,
        )
        figures = json.loads(result_file.read_text()) if result_file.is_file() else {}
        if way == "floor" and "SEGMENTATION_SHUFFLE_PARTITIONS" in env:
            figures["shuffle_partitions"] = int(env["SEGMENTATION_SHUFFLE_PARTITIONS"])
        if figures.get("status") == "out_of_memory":
            measured.status = "out_of_memory"
        if measured.status == "ok" and way == "floor":
            figures["tables"] = self.fingerprint(way, home, tag)
        return measured, figures

    def fingerprint(self, source: str, home: Path, tag: str) -> dict[str, Any]:
        """reference/fingerprints.py of what `source` wrote, read in a process of its own afterwards."""
        extra = ["--source", source]
        check, found = self.run_way_in_home("fingerprint", home, f"{source}_{tag}", extra)
        return found.get("tables", {}) if check.status == "ok" else {"error": {"status": check.status}}

    def run_pipeline(
        self,
        data: Path,
        tag: str,
        home: Path | None = None,
        extra_env: dict[str, str] | None = None,
        read_marts: bool = True,
        target: str | None = None,
    ) -> tuple[Measured, dict[str, Any]]:
        """`segmentation run --data-tests after`: models first, all tests once at the end, so that the
        transform-and-train time (wall time minus the `dbt test` stage) and the tests' time are apart.
        Without `home`, a fresh warehouse (no rows from another size); with it, that warehouse as it is
        (bench/warm_thrift.py: repeated runs in one warehouse, and a Thrift server's metastore in it)."""
        if importlib.util.find_spec("segmentation.pipeline") is None:
            return Measured(status="unavailable"), {"error": "segmentation.pipeline is not installed yet"}
        if home is None:
            home = self.cache / "home_pipeline"
            shutil.rmtree(home, ignore_errors=True)
        summary_file = home / "run_summary.json"
        summary_file.unlink(missing_ok=True)
        exe = self.bin / "segmentation"
        cli = (
            [str(exe)] if exe.is_file() else [sys.executable, "-c", "from segmentation.cli import app; app()"]
        )
        cmd = [*cli, "run", "--data", str(data), "--no-report", "--k", "4", "--data-tests", "after"]
        cmd += ["--target", target] if target else []
        env = self.env(home) | {"SEGMENTATION_SUMMARY_PATH": str(summary_file)} | (extra_env or {})
        measured = measure(
            cmd,
            env=env,
            cwd=self.project,
            log=self.logs / f"pipeline_{tag}.log",
            timeout_s=self.timeout_s,
        )
        figures: dict[str, Any] = {}
        if summary_file.is_file():  # stage timings and every dbt node's time, from all dbt invocations
            summary = json.loads(summary_file.read_text())
            stages = summary.get("timings_seconds", {})
            nodes = [
                {"node": node, "seconds": round(seconds, 3)}
                for node, seconds in summary.get("dbt_node_seconds", {}).items()
            ]
            by_type: dict[str, float] = {}
            for node in nodes:  # model / test / unit_test / seed / operation, from the unique_id prefix
                kind = str(node["node"]).split(".", 1)[0]
                by_type[kind] = round(by_type.get(kind, 0.0) + node["seconds"], 3)
            figures |= {"stage_seconds": stages, "dbt_nodes": nodes, "dbt_seconds_by_type": by_type,
                        "shuffle_partitions": summary.get("shuffle_partitions"),
                        "target": summary.get("target"), "customers": summary.get("customers"),
                        "total_monetary": summary.get("total_monetary")}
            if measured.status == "ok":
                figures["data_tests_s"] = stages.get("dbt test", 0.0)
                figures["transform_and_train_s"] = round(measured.wall_s - figures["data_tests_s"], 3)
        if measured.status == "ok" and read_marts:
            check, marts = self.run_way_in_home("pipeline_results", home, tag)
            figures.update(marts if check.status == "ok" else {"error": f"reading marts: {check.status}"})
            figures["tables"] = self.fingerprint("pipeline", home, tag)
        return measured, figures

    def run_way_in_home(
        self, way: str, home: Path, tag: str, extra: list[str] | None = None
    ) -> tuple[Measured, dict[str, Any]]:
        result_file = self.cache / f"result_{way}_{tag}.json"
        result_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "bench.run_way", "--way", way, "--out", str(result_file), *(extra or [])]
        measured = measure(
            cmd,
            env=self.env(home),
            cwd=self.project,
            log=self.logs / f"{way}_{tag}.log",
            timeout_s=self.timeout_s,
        )
        return measured, (json.loads(result_file.read_text()) if result_file.is_file() else {})

    def overhead(self, ways: list[str]) -> dict[str, Any]:
        """Fixed costs: a Spark session (JVM start + one job), dbt parse, the pipeline on a tiny input."""
        found: dict[str, Any] = {}
        if "pipeline" not in ways:  # the fixed costs are the pipeline's target; skip them otherwise
            return found
        measured, _ = self.run_way("session", Path(""), "overhead")
        found["spark_session_s"] = asdict(measured)
        dbt = self.bin / "dbt"
        if dbt.is_file():
            # A full parse (no partial_parse.msgpack read), with the pipeline's target: the manifest it writes
            # is then the one the tiny pipeline run reads, which parses partially, as a user's second run
            # does. With dbt's default target the vars hash differed and the pipeline parsed in full again.
            cmd = [
                str(dbt),
                "parse",
                "--no-partial-parse",
                "--target",
                self.settings.target,
                "--project-dir",
                str(self.project),
                "--profiles-dir",
                str(self.project),
            ]
            parse = measure(
                cmd,
                env=self.env(self.cache / "home_parse"),
                cwd=self.project,
                log=self.logs / "dbt_parse.log",
                timeout_s=600,
            )
            found["dbt_parse_s"] = asdict(parse)
        # An empty file is bad input (ingest refuses it), so the fixed cost is the pipeline on a tiny valid
        # input: 1,000 generated rows, enough customers for k = 4, too few for the data to cost anything.
        tiny, _ = self.dataset(str(OVERHEAD_ROWS))
        measured, figures = self.run_pipeline(tiny, "tiny")
        found["pipeline_tiny_input_s"] = asdict(measured) | {"figures": figures}
        # The same input through the hand-written floor: what Spark alone needs for the same tables and sweep.
        measured, figures = self.run_way("floor", tiny, "tiny")
        laps = figures.get("stats", {}).get("timings_s")
        found["floor_tiny_input_s"] = asdict(measured) | {"figures": {"timings_s": laps}}
        return found


def table_differences(first: dict[str, dict[str, Any]], other: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """{table.figure: [first, other]} for every fingerprint figure (bench/tables.py) that differs."""
    diffs: dict[str, list[Any]] = {}
    for table in sorted(set(first) | set(other)):
        a, b = first.get(table, {"missing": True}), other.get(table, {"missing": True})
        for figure in sorted(set(a) | set(b)):
            if a.get(figure) != b.get(figure):
                diffs[f"{table}.{figure}"] = [a.get(figure), b.get(figure)]
    return diffs


def agreement(results: list[WayResult]) -> dict[str, Any]:
    """The ways that finished must agree on customers, total monetary (to the cent) and segments, and
    their output tables on every fingerprint (bench/tables.py) when both ways wrote tables."""
    keys = ("customers", "total_monetary", "segment_counts")
    done = [r for r in results if r.measured.status == "ok" and "customers" in r.figures]
    if len(done) < 2:
        return {"checked": [r.way for r in done], "agree": None}
    first = done[0]
    diffs = {}
    tables_compared = []
    for other in done[1:]:
        for key in keys:
            a, b = first.figures.get(key), other.figures.get(key)
            if key == "total_monetary":
                a, b = round(float(a), 2), round(float(b), 2)
            if a != b:
                diffs[f"{first.way} vs {other.way}: {key}"] = [a, b]
        if first.figures.get("tables") and other.figures.get("tables"):
            tables_compared.append(other.way)
            for figure, pair in table_differences(first.figures["tables"], other.figures["tables"]).items():
                diffs[f"{first.way} vs {other.way}: {figure}"] = pair
    return {
        "checked": [r.way for r in done],
        "tables_checked": [first.way, *tables_compared] if tables_compared else [],
        "agree": not diffs,
        "differences": diffs,
    }


PIPELINE_TRANSFORM_STAGES = ("dbt run (to customer_rfm)", "train clusters", "dbt run (cluster marts)")


def transform_after_load(size: dict[str, Any]) -> dict[str, float]:
    """Issue 7's transform-and-train time, `dbt run` plus the ML step: the pipeline's two dbt stages and its
    training, against the floor's steps after its ingest (both load with the same ingest code, and both
    start a Spark session first)."""
    found: dict[str, float] = {}
    for r in size["results"]:
        if r["measured"]["status"] != "ok":
            continue
        stages = r["figures"].get("stage_seconds") or {}
        laps = (r["figures"].get("stats") or {}).get("timings_s") or {}
        if r["way"] == "pipeline" and all(name in stages for name in PIPELINE_TRANSFORM_STAGES):
            found["pipeline"] = sum(stages[name] for name in PIPELINE_TRANSFORM_STAGES)
        elif r["way"] == "floor" and "ingest" in laps:
            found["floor"] = sum(seconds for name, seconds in laps.items() if name != "ingest")
    return found


def write_outputs(out_dir: Path, record: dict[str, Any]) -> Path:
    (out_dir / "results.json").write_text(json.dumps(record, indent=1, default=str))
    lines = [
        f"# Benchmark ({record['started_at']}, {record['machine']['cpus']} CPUs, "
        f"{record['machine']['memory_gib']} GiB)",
        "",
        "| rows | way | status | wall s | transform + train s | data tests s | CPU s | peak RSS MiB | rows/s "
        "| customers | total monetary |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in record["sizes"]:
        for r in size["results"]:
            m, f = r["measured"], r["figures"]
            rate = f"{r['rows_per_s']:,.0f}" if r["rows_per_s"] else ""
            total = f"{f['total_monetary']:,.2f}" if "total_monetary" in f else ""
            transform = f"{f['transform_and_train_s']:.1f}" if "transform_and_train_s" in f else ""
            tests = f"{f['data_tests_s']:.1f}" if "data_tests_s" in f else ""
            lines.append(
                f"| {size['rows']:,} | {r['way']} | {m['status']} | {m['wall_s']:.1f} | {transform} | {tests} | "
                f"{m['cpu_s']:.1f} | {m['peak_rss_mb']:,.0f} | {rate} | {f.get('customers', '')} | {total} |"
            )
    lines += ["", "## Agreement", ""]
    for size in record["sizes"]:
        a = size["agreement"]
        verdict = {True: "agree", False: "DISAGREE", None: "not checked (fewer than two ways finished)"}[
            a["agree"]
        ]
        tables = a.get("tables_checked") or []
        lines.append(
            f"- {size['rows']:,} rows: {verdict} ({', '.join(a['checked'])}"
            + (f"; every output table's fingerprint: {', '.join(tables)}" if tables else "")
            + ")"
            + (f": {a['differences']}" if a.get("differences") else "")
        )
    ratios = []
    for size in record["sizes"]:
        walls = {
            r["way"]: r["figures"].get("transform_and_train_s") or r["measured"]["wall_s"]
            for r in size["results"]
            if r["measured"]["status"] == "ok"
        }
        if "pipeline" in walls and "floor" in walls:
            ratios.append(
                f"- {size['rows']:,} rows: pipeline / floor = {walls['pipeline'] / walls['floor']:.2f}"
            )
        after_load = transform_after_load(size)
        if "pipeline" in after_load and "floor" in after_load:
            ratios.append(
                f"- {size['rows']:,} rows, after the load (the issue's `dbt run` + ML step: "
                f"{after_load['pipeline']:.1f} s; the floor's work after its ingest: {after_load['floor']:.1f} s): "
                f"pipeline / floor = {after_load['pipeline'] / after_load['floor']:.2f}"
            )
    if ratios:
        lines += [
            "",
            "## Ratios (wall time; for the pipeline its transform-and-train time: the whole run but the "
            "`dbt test` stage, which is timed apart. Both Spark ways load the files with the same ingest code)",
            "",
            *ratios,
        ]
    sweeps = [
        f"- {size['rows']:,} rows, {r['way']}: {r['figures']['stats']['k_sweep']['seconds']:.1f} s"
        for size in record["sizes"]
        for r in size["results"]
        if "k_sweep" in (r["figures"].get("stats") or {})
    ]
    if sweeps:
        # The pipeline sweeps k = 2..10 on every run; the floor does the same work, timed here
        # (the pipeline's sweep is inside its `train clusters` stage).
        lines += ["", "## k sweep (k = 2..10, cost and silhouette; the fit at k is kept)", "", *sweeps]
    for size in record["sizes"]:
        for r in size["results"]:
            nodes = r["figures"].get("dbt_nodes") or []
            if nodes:
                slowest = sorted(nodes, key=lambda n: -n["seconds"])[:10]
                by_type = ", ".join(f"{k} {v:.1f} s" for k, v in r["figures"]["dbt_seconds_by_type"].items())
                lines += ["", f"## dbt nodes at {size['rows']:,} rows ({by_type})", ""]
                lines += [f"- {n['node']}: {n['seconds']:.1f} s" for n in slowest]
            stages = r["figures"].get("stage_seconds") or {}
            if stages:
                lines += ["", f"## Pipeline stages at {size['rows']:,} rows", ""]
                lines += [f"- {name}: {seconds:.1f} s" for name, seconds in stages.items()]
            laps = (r["figures"].get("stats") or {}).get("timings_s") or {}
            if laps:
                lines += ["", f"## {r['way']} steps at {size['rows']:,} rows", ""]
                lines += [f"- {name}: {seconds:.1f} s" for name, seconds in laps.items()]
    if record["overhead"]:
        lines += ["", "## Fixed overhead", ""]
        for name, m in record["overhead"].items():
            untested = m.get("figures", {}).get("transform_and_train_s")
            lines.append(
                f"- {name}: {m['wall_s']:.1f} s ({m['status']})"
                + (f"; without the data tests {untested:.1f} s" if untested else "")
            )
    md = out_dir / "results.md"
    md.write_text("\n".join(lines) + "\n")
    plot(out_dir / "time_vs_rows.png", record)
    return md


def plot(path: Path, record: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for way in WAYS:
        points = sorted(
            (size["rows"], r["measured"]["wall_s"])
            for size in record["sizes"]
            for r in size["results"]
            if r["way"] == way and r["measured"]["status"] == "ok"
        )
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=way)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Segmentation: time against rows")
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_bench(settings: Settings, rows: str, out_dir: Path | None = None, ways: str = ",".join(WAYS)) -> str:
    sizes, chosen = parse_sizes(rows), parse_ways(ways)
    out = Path(out_dir) if out_dir else settings.project_dir / "bench" / "results"
    bench = Bench(settings, out)
    record: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ways": chosen,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "overhead": bench.overhead(chosen),
        "sizes": [],
    }
    for token in sizes:
        data, generated_rows = bench.dataset(token)
        tag = data.name.replace(".", "_")
        results: list[WayResult] = []
        entry: dict[str, Any] = {"rows": generated_rows or 0, "data": str(data)}
        record["sizes"].append(entry)
        for way in chosen:
            if way == "pipeline":
                measured, figures = bench.run_pipeline(data, tag)
            else:
                measured, figures = bench.run_way(way, data, tag, generated_rows)
            n = generated_rows or int(figures.get("stats", {}).get("raw_rows", 0)) or 0
            rate = (
                round(n / measured.wall_s, 1) if measured.status == "ok" and measured.wall_s and n else None
            )
            results.append(WayResult(way=way, rows=n, measured=measured, rows_per_s=rate, figures=figures))
            entry.update(
                rows=generated_rows or max(r.rows for r in results),
                results=[asdict(r) for r in results],
                agreement=agreement(results),
            )
            write_outputs(out, record)  # after every way, so a long run leaves partial results
    md = write_outputs(out, record)
    return md.read_text() + f"\nwritten to {out}\n"
