"""Turn the charts into one self-contained HTML file (plotly.js inlined once, so it opens offline) and one
PNG per chart.

The page records its own health for the browser test: `window.onerror` and rejected plot promises are
collected in `document.body.dataset.reportErrors`, and `document.body.dataset.chartsRendered` counts the
charts plotly has finished drawing.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from segmentation.errors import SegmentationError

PNG_WIDTH = 1100


@dataclass
class RenderedChart:
    chart_id: str
    section: str
    title: str
    source: str
    figure: go.Figure | None
    unavailable: str | None = None


HEAD_SCRIPT = """
window.__reportErrors = [];
window.__chartsRendered = 0;
function __recordError(message) {
  window.__reportErrors.push(String(message));
  document.body.dataset.reportErrors = JSON.stringify(window.__reportErrors);
}
window.onerror = function (message, source, line) { __recordError(message + ' at ' + source + ':' + line); };
window.addEventListener('unhandledrejection', function (event) {
  __recordError('unhandled: ' + event.reason);
});
function __plot(id, figure) {
  try {
    Plotly.newPlot(id, figure.data, figure.layout, {responsive: true, displaylogo: false})
      .then(function () {
        window.__chartsRendered += 1;
        document.getElementById(id).dataset.rendered = 'true';
        document.body.dataset.chartsRendered = String(window.__chartsRendered);
      })
      .catch(function (error) { __recordError(id + ': ' + error); });
  } catch (error) { __recordError(id + ': ' + error); }
}
"""

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 24px 48px; color: #222; }
h1 { margin-top: 28px; } h2 { border-bottom: 2px solid #dfe7f2; padding-bottom: 4px; margin-top: 40px; }
.chart-block { margin: 24px 0; } .source { color: #666; font-size: 0.85em; }
.chart-unavailable { padding: 18px; background: #fff6e5; border: 1px solid #f0c36d; border-radius: 6px; }
.summary { background: #f4f8fc; border-left: 4px solid #1f77b4; padding: 10px 16px; }
nav a { margin-right: 14px; }
"""


def _script_json(figure: go.Figure) -> str:
    # "</" inside a <script> would end it early; "<\/" is the same string to JavaScript.
    return figure.to_json().replace("</", "<\\/")


def render_html(
    charts: list[RenderedChart], *, title: str, intro_html: str, section_notes: dict[str, str]
) -> str:
    sections = list(dict.fromkeys(chart.section for chart in charts))
    nav = " ".join(f'<a href="#section-{i}">{html.escape(s)}</a>' for i, s in enumerate(sections))
    body: list[str] = [f"<h1>{html.escape(title)}</h1>", intro_html, f"<nav>{nav}</nav>"]
    for index, section in enumerate(sections):
        body.append(f'<h2 id="section-{index}">{html.escape(section)}</h2>')
        if note := section_notes.get(section):
            body.append(f'<div class="summary">{note}</div>')
        for chart in (c for c in charts if c.section == section):
            body.append('<div class="chart-block">')
            if chart.figure is None:
                reason = html.escape(chart.unavailable or "not available")
                body.append(
                    f'<div id="chart-{chart.chart_id}" class="chart-unavailable" '
                    f'data-chart-id="{chart.chart_id}">'
                    f"<strong>{html.escape(chart.title)}</strong>: {reason}</div>"
                )
            else:
                body.append(
                    f'<div id="chart-{chart.chart_id}" class="chart" data-chart-id="{chart.chart_id}"></div>'
                )
                body.append(
                    f"<script>__plot('chart-{chart.chart_id}', {_script_json(chart.figure)});</script>"
                )
            body.append(f'<div class="source">Source: {html.escape(chart.source)}</div></div>')
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{STYLE}</style>",
            f"<script>{HEAD_SCRIPT}</script>",
            # plotly.js inlined once: the file opens without a network connection.
            f'<script type="text/javascript">{get_plotlyjs()}</script>',
            "</head><body>",
            *body,
            "</body></html>",
        ]
    )


class PngExporter:
    """PNG copies through kaleido 0.2.1 (pinned; it ships its own headless Chromium and works offline).

    plotly >= 6 no longer drives kaleido 0.2.x itself, so the scope is used directly, with plotly's own
    bundled plotly.js so the PNG matches the HTML.
    """

    def __init__(self) -> None:
        try:
            from kaleido.scopes.plotly import PlotlyScope
        except ImportError as exc:  # pragma: no cover - kaleido is a declared dependency
            raise SegmentationError(f"PNG export needs kaleido==0.2.1 ({exc})") from exc
        plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        self._scope = PlotlyScope(plotlyjs=str(plotly_js), mathjax=False)

    def write(self, figure: go.Figure, path: Path) -> Path:
        spec = json.loads(figure.to_json())
        height = int(spec.get("layout", {}).get("height") or 450)
        try:
            image = self._scope.transform(spec, format="png", width=PNG_WIDTH, height=height)
        except ValueError as exc:
            raise SegmentationError(f"PNG export of {path.name} failed: {exc}") from exc
        path.write_bytes(image)
        return path
