"""Open the HTML report in headless Chromium (Debian's package, installed by scripts/install_system_deps.sh)
and check that every chart rendered without a JavaScript error. Saves a screenshot under test-artifacts/.

The page keeps its own score (see segmentation/report/render.py): errors go to body[data-report-errors],
and body[data-charts-rendered] counts the charts plotly finished drawing. `--dump-dom` after a virtual
time budget returns the DOM as it stands once the page has settled.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import missing_dependency
from test_report import ensure_report

PROJECT_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_DIR / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]
# Prefixes of the trace layers plotly draws for the chart types the report uses (bars, lines, boxes, heatmaps, tables).
TRACE_MARKERS = ('class="trace bars', 'class="trace scatter', 'class="trace boxes', 'class="hm"', 'class="table"')


def _chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        missing_dependency("chromium is not installed (run scripts/install_system_deps.sh as root to install it)")
    return found


def _run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def report_path(spark, settings, pipeline_run) -> Path:
    return ensure_report(spark, settings)


def _chart_blocks(dom: str) -> dict[str, str]:
    """chart id -> the DOM of its block (from its div to the next chart block)."""
    blocks = dom.split('<div class="chart-block">')[1:]
    found = {}
    for block in blocks:
        # Plotly adds its own classes to the chart div once drawn ("chart js-plotly-plot").
        match = re.search(r'<div id="chart-([a-z_]+)" class="chart[ "]', block)
        if match:
            found[match.group(1)] = block
    return found


def test_report_renders_in_chromium_without_errors(report_path, tmp_path):
    chromium = _chromium()
    url = report_path.resolve().as_uri()
    dumped = _run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "no <body> in the dumped DOM"
    assert "data-report-errors" not in body.group(1), f"JavaScript errors: {body.group(1)}"

    expected = set(re.findall(r'<div id="chart-([a-z_]+)" class="chart"', report_path.read_text(encoding="utf-8")))
    assert expected, "the report has no rendered charts at all"
    rendered_count = re.search(r'data-charts-rendered="(\d+)"', body.group(1))
    assert rendered_count and int(rendered_count.group(1)) == len(expected), body.group(1)

    blocks = _chart_blocks(dom)
    assert set(blocks) == expected
    for chart_id, block in blocks.items():
        assert 'data-rendered="true"' in block, f"{chart_id} never finished rendering"
        assert 'class="main-svg"' in block, f"{chart_id} has no svg"
        assert any(marker in block for marker in TRACE_MARKERS), f"{chart_id} drew no trace"

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    shot = _run_chromium(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,5000",
        "--hide-scrollbars",
        url,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.is_file() and screenshot.stat().st_size > 20_000
    (ARTIFACTS / "report_dom.html").write_text(dom, encoding="utf-8")
    if os.environ.get("SEGMENTATION_KEEP_REPORT"):
        shutil.copy(report_path, ARTIFACTS / "report.html")
