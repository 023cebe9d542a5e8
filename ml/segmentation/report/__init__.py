"""The segment report: one self-contained interactive HTML file plus a PNG per chart, built only from
warehouse tables (issue 8, item 1)."""

from segmentation.report.build import build_report

__all__ = ["build_report"]
