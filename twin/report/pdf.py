"""The PDF of the report: Chromium prints the very page the HTML is, so the two cannot differ."""

from __future__ import annotations

import logging
from pathlib import Path

from twin.report.browser import BROWSERS, INSTALL_HINT, BrowserError, find_browser, run_headless

log = logging.getLogger(__name__)

# Plotly sizes a chart to its container when the page loads and does not redraw for print: the
# window is the printable width of A4 landscape (297 - 2 x 12 mm at 96 px/inch), so the charts
# are laid out at the width they are printed at.
PRINT_WINDOW = "--window-size=1032,1400"


def write_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 120.0) -> Path | None:
    """``html_path`` printed to ``pdf_path``; None (and a warning) when no Chromium is installed."""
    browser = find_browser()
    if browser is None:
        log.warning(
            "no PDF of the report: none of %s is installed; %s", ", ".join(BROWSERS), INSTALL_HINT
        )
        return None
    pdf_path.unlink(missing_ok=True)  # never mistake an older print for this one
    flags = (
        "--no-pdf-header-footer",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=15000",
        PRINT_WINDOW,
        f"--print-to-pdf={pdf_path.resolve()}",
    )
    run_headless(browser, html_path, flags, timeout_s)
    if not pdf_path.is_file() or not pdf_path.read_bytes()[:5] == b"%PDF-":
        raise BrowserError(f"{browser} wrote no PDF to {pdf_path}")
    return pdf_path
