"""The benchmark harness end to end at a tiny size: a way runs in its own process, is measured, its
tables fingerprinted, and JSON, Markdown and a plot are left behind."""

from __future__ import annotations

import json


def test_bench_smoke(settings, tmp_path):
    """The harness at a tiny size with the floor alone (the pipeline against the floor is compared on the
    sample by test_pipeline.py): measured in its own process, its tables fingerprinted in another."""
    from bench.harness import run_bench

    rows = "2000"  # generated once, cached under bench/.cache/
    out = tmp_path / "results"
    text = run_bench(settings, rows=rows, out_dir=out, ways="floor")

    record = json.loads((out / "results.json").read_text())
    (size,) = record["sizes"]
    (result,) = size["results"]
    measured = result["measured"]
    assert result["way"] == "floor" and measured["status"] == "ok", measured
    assert measured["wall_s"] > 0 and measured["cpu_s"] > 0
    assert result["rows_per_s"] > 0
    assert result["figures"]["customers"] > 0
    # The JVM dominates the floor's memory: the process-tree sampling must have seen it.
    assert measured["peak_rss_mb"] > 200
    tables = result["figures"]["tables"]
    assert len(tables) == 15 and not any(t.get("missing") for t in tables.values()), tables
    assert int(tables["fct_order_lines"]["rows"]) > 0
    markdown = (out / "results.md").read_text()
    assert markdown.count("| ok |") == 1
    # The floor ran the pipeline's k sweep, and the Markdown times it.
    assert result["figures"]["stats"]["k_sweep"]["points"][0]["k"] == 2
    assert "rows, floor: " in markdown.split("## k sweep")[1]
    assert (out / "time_vs_rows.png").stat().st_size > 1000
    assert "not checked" in text


def test_measure_sees_grandchildren_memory_and_cpu(tmp_path):
    # A child that starts a grandchild holding ~300 MiB: the tree sampling must see the grandchild.
    import sys

    from bench.harness import measure

    # It burns 0.8 s of its own CPU (process_time, so a loaded machine does not change the figure).
    grandchild = "b = bytearray(b'x') * (300 * 2**20); import time\nwhile time.process_time() < 0.8: pass"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)"
    measured = measure(
        [sys.executable, "-c", child], env=None, cwd=tmp_path, log=tmp_path / "log.txt", timeout_s=60
    )
    assert measured.status == "ok"
    assert measured.peak_rss_mb > 300
    assert measured.cpu_s >= 0.8


def test_agreement_reports_differences():
    from bench.harness import Measured, WayResult, agreement

    ok = Measured(status="ok")
    same = {"customers": 3, "total_monetary": 10.004, "segment_counts": {"Lost": 3}}
    results = [
        WayResult("floor", 10, ok, figures=dict(same)),
        WayResult("pipeline", 10, ok, figures=dict(same, total_monetary=10.0)),
        WayResult("other", 10, Measured(status="failed"), figures={}),
    ]
    assert agreement(results) == {
        "checked": ["floor", "pipeline"], "tables_checked": [], "agree": True, "differences": {}
    }
    results[1].figures["segment_counts"] = {"Lost": 2, "Others": 1}
    verdict = agreement(results)
    assert verdict["agree"] is False
    assert list(verdict["differences"]) == ["floor vs pipeline: segment_counts"]
    # Output tables: compared figure by figure when both ways wrote them; a table one way lacks differs too.
    results[1].figures["segment_counts"] = {"Lost": 3}
    results[0].figures["tables"] = {"fct_orders": {"rows": "5", "lines": "9"}, "k_sweep": {"rows": "9"}}
    results[1].figures["tables"] = {"fct_orders": {"rows": "5", "lines": "8"}}
    verdict = agreement(results)
    assert verdict["tables_checked"] == ["floor", "pipeline"]
    assert verdict["differences"] == {
        "floor vs pipeline: fct_orders.lines": ["9", "8"],
        "floor vs pipeline: k_sweep.missing": [None, True],
        "floor vs pipeline: k_sweep.rows": ["9", None],
    }


def test_bad_arguments_are_one_line_errors():
    import pytest

    from bench.harness import parse_sizes, parse_ways
    from segmentation.errors import SegmentationError

    assert parse_sizes("1e3, 2000") == ["1e3", "2000"]
    with pytest.raises(SegmentationError, match="neither a row count"):
        parse_sizes("lots")
    with pytest.raises(SegmentationError, match="unknown"):
        parse_ways("floor,spark")
