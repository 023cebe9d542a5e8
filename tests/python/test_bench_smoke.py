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
    assert (out / "results.md").read_text().count("| ok |") == 2
    assert (out / "time_vs_rows.png").stat().st_size > 1000
    assert "agree" in text
