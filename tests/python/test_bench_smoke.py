"""The benchmark harness end to end at a tiny size: both non-dbt ways run in their own processes,
are measured, agree, and leave JSON, Markdown and a plot behind."""

from __future__ import annotations

import importlib.util
import json

from test_bench_impls import EDGE_ROWS, HEADER


def test_bench_smoke(settings, tmp_path):
    from segmentation.bench import run_bench

    if importlib.util.find_spec("segmentation.generate") is not None:
        rows = "2000"  # generated once, cached under bench/.cache/
    else:  # the generator lands with the ingest work; until then a small hand-written file
        data = tmp_path / "tiny.csv"
        data.write_text("\n".join([HEADER, *EDGE_ROWS]) + "\n", encoding="utf-8")
        rows = str(data)
    out = tmp_path / "results"
    text = run_bench(settings, rows=rows, out_dir=out, ways="floor,pandas")

    record = json.loads((out / "results.json").read_text())
    (size,) = record["sizes"]
    by_way = {r["way"]: r for r in size["results"]}
    assert set(by_way) == {"floor", "pandas"}
    for way, result in by_way.items():
        measured = result["measured"]
        assert measured["status"] == "ok", (way, measured)
        assert measured["wall_s"] > 0 and measured["cpu_s"] > 0
        assert result["rows_per_s"] > 0
        assert result["figures"]["customers"] > 0
    # The JVM dominates the floor's memory: the process-tree sampling must have seen it.
    assert by_way["floor"]["measured"]["peak_rss_mb"] > by_way["pandas"]["measured"]["peak_rss_mb"] / 4
    assert by_way["floor"]["measured"]["peak_rss_mb"] > 200
    assert size["agreement"]["agree"] is True, size["agreement"]
    # Both ways wrote all the output tables, and their fingerprints were compared (bench/tables.py).
    assert size["agreement"]["tables_checked"] == ["floor", "pandas"]
    for way in ("floor", "pandas"):
        tables = by_way[way]["figures"]["tables"]
        assert len(tables) == 15 and not any(t.get("missing") for t in tables.values()), (way, tables)
        assert int(tables["fct_order_lines"]["rows"]) > 0
    markdown = (out / "results.md").read_text()
    assert markdown.count("| ok |") == 2
    # Both ways ran the pipeline's k sweep, and the Markdown times it per way.
    for way in ("floor", "pandas"):
        assert by_way[way]["figures"]["stats"]["k_sweep"]["points"][0]["k"] == 2
        assert f"rows, {way}: " in markdown.split("## k sweep")[1]
    assert (out / "time_vs_rows.png").stat().st_size > 1000
    assert "agree" in text


def test_measure_sees_grandchildren_memory_and_cpu(tmp_path):
    # A child that starts a grandchild holding ~300 MiB: the tree sampling must see the grandchild.
    import sys

    from segmentation.bench import measure

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
    from segmentation.bench import Measured, WayResult, agreement

    ok = Measured(status="ok")
    same = {"customers": 3, "total_monetary": 10.004, "segment_counts": {"Lost": 3}}
    results = [
        WayResult("floor", 10, ok, figures=dict(same)),
        WayResult("pandas", 10, ok, figures=dict(same, total_monetary=10.0)),
        WayResult("pipeline", 10, Measured(status="failed"), figures={}),
    ]
    assert agreement(results) == {
        "checked": ["floor", "pandas"], "tables_checked": [], "agree": True, "differences": {}
    }
    results[1].figures["segment_counts"] = {"Lost": 2, "Others": 1}
    verdict = agreement(results)
    assert verdict["agree"] is False
    assert list(verdict["differences"]) == ["floor vs pandas: segment_counts"]
    # Output tables: compared figure by figure when both ways wrote them; a table one way lacks differs too.
    results[1].figures["segment_counts"] = {"Lost": 3}
    results[0].figures["tables"] = {"fct_orders": {"rows": "5", "lines": "9"}, "k_sweep": {"rows": "9"}}
    results[1].figures["tables"] = {"fct_orders": {"rows": "5", "lines": "8"}}
    verdict = agreement(results)
    assert verdict["tables_checked"] == ["floor", "pandas"]
    assert verdict["differences"] == {
        "floor vs pandas: fct_orders.lines": ["9", "8"],
        "floor vs pandas: k_sweep.missing": [None, True],
        "floor vs pandas: k_sweep.rows": ["9", None],
    }


def test_bad_arguments_are_one_line_errors():
    import pytest

    from segmentation.bench import parse_sizes, parse_ways
    from segmentation.errors import SegmentationError

    assert parse_sizes("1e3, 2000") == ["1e3", "2000"]
    with pytest.raises(SegmentationError, match="neither a row count"):
        parse_sizes("lots")
    with pytest.raises(SegmentationError, match="unknown"):
        parse_ways("floor,spark")
