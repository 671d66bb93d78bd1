"""The regulator's report of a replay: report.html (self-contained, opens offline) and its PDF,
built from the Audit alone.

    formats.py   how money, energy, EVCH and times are written
    charts.py    the plotly figures
    html.py      the page
    browser.py   headless Chromium, offline
    pdf.py       the page printed to PDF
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twin.replay.audit import Audit
from twin.report.html import render_html
from twin.report.pdf import write_pdf


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None  # None when no headless Chromium is installed to print it


def write_report(audit: Audit, out_dir: Path) -> ReportFiles:
    """report.html and report.pdf in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(audit), encoding="utf-8")
    return ReportFiles(html=html_path, pdf=write_pdf(html_path, out_dir / "report.pdf"))


__all__ = ["ReportFiles", "write_report"]
