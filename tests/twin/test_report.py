"""The regulator's report, built from a hand-made Audit (the report is a pure function of it) and
read back as a reader would: in headless Chromium, as a screenshot and as PDF text.

Chromium and pdftotext (Debian: chromium, poppler-utils) are required in CI (CI set): without
them these tests fail there; elsewhere they skip and say why.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from twin.replay.audit import Audit, LimitCheck, SessionAudit, Verification
from twin.report import ReportFiles, write_report
from twin.report.browser import find_browser, run_headless
from twin.report.formats import money_text, share_text
from twin.report.html import render_html

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CHARTS = 5  # site power, prices, sessions per charger, energy vs minted, supply
SIGNATURE = "3045022100" + "ab" * 32 + "0220" + "cd" * 32


def _session(
    charger_id: str,
    transaction_ref: str,
    start_min: int,
    energy_wh: int,
    *,
    protocol: str = "1.6",
    reason: str | None = None,
    minted_raw: int | None = None,
    differences: tuple[str, ...] = (),
    currency: str = "IRR",
) -> SessionAudit:
    verified = reason is None
    expected = energy_wh * 1_000 if verified else 0
    return SessionAudit(
        charger_id=charger_id,
        transaction_ref=transaction_ref,
        protocol=protocol,
        session_id=int(transaction_ref) if transaction_ref.isdigit() else None,
        id_token="TAG-VALID",
        started_at=T0 + timedelta(minutes=start_min),
        stopped_at=T0 + timedelta(minutes=start_min + 50),
        energy_wh=energy_wh,
        verified_energy_wh=energy_wh if verified else None,
        verification=Verification.VERIFIED if verified else Verification.UNVERIFIED,
        reason=reason,
        signature=SIGNATURE if verified else None,
        meter_serial=f"EMH-{charger_id}",
        cost_minor=energy_wh * 3_150,  # 31.50 per Wh: 31,500 (rials) per kWh
        currency=currency,
        expected_mint_raw=expected,
        minted_raw=expected if minted_raw is None and verified else minted_raw,
        differences=differences,
    )


def _audit(run_dir: Path) -> Audit:
    sessions = (
        _session("CP-1", "1", 0, 12_345),
        _session("CP-1", "2", 60, 8_000),
        _session(
            "CP-2",
            "b7e0c4d2-tx",
            30,
            9_870,
            protocol="2.0.1",
            reason="signature does not match the meter's public key <EMH-CP-2>",
        ),
        _session(
            "CP-3",
            "4",
            90,
            7_500,
            currency="AED",
            minted_raw=7_000_000,
            differences=("ledger minted 7.000000 EVCH, the verified energy is 7.500 kWh",),
        ),
    )
    intervals = [T0 + timedelta(minutes=30 * n) for n in range(6)]
    loads = {  # site -> grid limit (kW), mean power per interval (kW), peak / mean
        "tehran-1": (50.0, (10, 30, 44, 40, 22, 5), 1.0),
        "dubai-1": (22.0, (0, 11, 21, 18, 11, 0), 1.1),  # 21 kW x 1.1 = 23.1 kW: over
    }
    site_power = pd.DataFrame(
        [
            {
                "site_id": site,
                "interval_start": start,
                "interval_end": start + timedelta(minutes=30),
                "energy_wh": mean_kw * 500,
                "mean_power_kw": mean_kw,
                "peak_power_kw": mean_kw * peak_ratio,
                "grid_limit_kw": limit_kw,
            }
            for site, (limit_kw, means_kw, peak_ratio) in loads.items()
            for start, mean_kw in zip(intervals, means_kw, strict=True)
        ]
    )
    prices = pd.DataFrame(
        [
            {"site_id": "tehran-1", "start": T0, "price_per_kwh": 31_500.0, "currency": "IRR"},
            {
                "site_id": "tehran-1",
                "start": intervals[3],
                "price_per_kwh": 42_000.0,
                "currency": "IRR",
            },
            {"site_id": "dubai-1", "start": T0, "price_per_kwh": 0.95, "currency": "AED"},
        ]
    )
    supply = pd.DataFrame(
        {
            "t": [s.stopped_at for s in sessions if s.minted_raw],
            "supply_evch": [12.345, 20.345, 27.345],
        }
    )
    return Audit(
        run_dir=run_dir,
        scenario="quickstart <pilot>",
        frames=1_234,
        sessions=sessions,
        limits=(
            LimitCheck("tehran-1", 50.0, 44.0, 6, 0),
            LimitCheck("dubai-1", 22.0, 23.1, 6, 1),
        ),
        site_power=site_power,
        prices=prices,
        supply=supply,
    )


def _required(tool: str, found: str | None, install: str) -> str:
    """The tool's path; in CI its absence fails the test, elsewhere it skips."""
    if found is None:
        message = f"{tool} is not installed ({install})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must install it")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser() -> str:
    return _required("headless Chromium", find_browser(), "apt-get install chromium")


@pytest.fixture(scope="module")
def report(browser: str, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("report")
    return write_report(_audit(out.parent / "runs" / "quickstart"), out)


def _by_id(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match, f"no element #{element_id}"
    return unescape(match.group(1))


# Injected into a copy of the page before anything else runs: every uncaught error, rejected
# promise and console.error is written into the DOM, where --dump-dom shows it.
ERROR_COLLECTOR = """<script>
(() => {
  const root = document.documentElement, seen = [];
  const note = (text) => { seen.push(String(text)); root.dataset.jsErrors = JSON.stringify(seen); };
  window.addEventListener("error", (e) => note(e.message || e.type));
  window.addEventListener("unhandledrejection", (e) => note(e.reason));
  const consoleError = console.error;
  console.error = (...args) => { note(args.join(" ")); consoleError(...args); };
  window.addEventListener("load", () => { root.dataset.loaded = "yes"; });
})();
</script>"""


def _dumped_dom(browser: str, html_path: Path, tmp_path: Path, page_script: str = "") -> str:
    probe = tmp_path / "probe.html"
    text = html_path.read_text(encoding="utf-8")
    probe.write_text(text.replace("<head>", f"<head>{ERROR_COLLECTOR}{page_script}", 1))
    flags = ("--virtual-time-budget=15000", "--run-all-compositor-stages-before-draw", "--dump-dom")
    return run_headless(browser, probe, flags).stdout


def test_the_page_loads_without_errors_and_draws_every_chart(
    browser: str, report: ReportFiles, tmp_path: Path
) -> None:
    dom = _dumped_dom(browser, report.html, tmp_path)
    assert 'data-loaded="yes"' in dom, "the page never finished loading"
    assert "data-js-errors" not in dom, re.search(r'data-js-errors="([^"]*)"', dom).group(1)
    assert len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', dom)) == CHARTS
    # Every drawn plot has its main <svg> with traces in it.
    assert len(re.findall(r'<svg class="main-svg"', dom)) >= CHARTS
    assert len(re.findall(r'class="[^"]*\btrace\b', dom)) >= CHARTS

    assert _by_id(dom, "sessions-count") == "4"
    assert _by_id(dom, "verified-share") == "3 of 4 (75.0 %)"
    assert _by_id(dom, "verdict") == "1 difference"
    assert re.search(r'id="verdict" class="verdict bad"', dom)
    assert len(re.findall(r'<tr class="unverified">', dom)) == 1


def test_the_collector_sees_a_javascript_error(
    browser: str, report: ReportFiles, tmp_path: Path
) -> None:
    """Without this, 'no errors' above could mean the collector never ran."""
    failing = "<script>window.addEventListener('load', () => undefinedFunction());</script>"
    dom = _dumped_dom(browser, report.html, tmp_path, failing)
    assert "undefinedFunction" in re.search(r'data-js-errors="([^"]*)"', dom).group(1)


def test_a_screenshot_shows_a_drawn_page(browser: str, report: ReportFiles, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    flags = ("--virtual-time-budget=15000", "--window-size=1400,2400", f"--screenshot={shot}")
    run_headless(browser, report.html, flags)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1400, 2400)
    assert len(png) > 60_000, "an (almost) empty page compresses to a few kB"


def test_the_pdf_holds_the_verdict_the_counts_and_the_charts(report: ReportFiles) -> None:
    pdftotext = _required("pdftotext", shutil.which("pdftotext"), "apt-get install poppler-utils")
    assert report.pdf is not None and report.pdf.read_bytes()[:4] == b"%PDF"
    text = subprocess.run(
        [pdftotext, "-layout", str(report.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "1 difference",
        "3 of 4 (75.0 %)",
        "Sessions (4)",
        "388,867.50 IRR",  # 12,345 Wh x 3,150 minor/Wh, exponent 2
        "7.000000",
        "power (kW)",  # axis titles are text in the printed charts
        "supply (EVCH)",
    ):
        assert expected in text, f"{expected!r} not in the PDF text"


def test_the_page_opens_offline(tmp_path: Path) -> None:
    page = render_html(_audit(tmp_path))
    external = re.findall(r'<(?:script[^>]*\bsrc|link[^>]*\bhref)="(?:https?:)?//[^"]*"', page)
    assert external == []
    assert page.count("window.PlotlyConfig") == 1, "plotly.js must be inlined exactly once"


def test_without_a_browser_the_html_is_written_and_the_pdf_is_skipped_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    files = write_report(_audit(tmp_path), tmp_path / "out")
    assert files.pdf is None and files.html.is_file()
    assert "apt-get install chromium" in caplog.text


def test_text_from_the_audit_is_escaped(tmp_path: Path) -> None:
    page = render_html(_audit(tmp_path))
    assert "quickstart &lt;pilot&gt;" in page
    assert "public key &lt;EMH-CP-2&gt;" in page
    assert "<pilot>" not in page and "<EMH-CP-2>" not in page


def test_a_reconciled_run_reads_green(tmp_path: Path) -> None:
    audit = _audit(tmp_path)
    clean = Audit(
        run_dir=audit.run_dir,
        scenario=audit.scenario,
        frames=audit.frames,
        sessions=audit.sessions[:2],
        limits=audit.limits[:1],
    )
    page = render_html(clean)
    assert '<span id="verdict" class="verdict ok">Reconciled</span>' in page
    assert _by_id(page, "verified-share") == "2 of 2 (100.0 %)"
    assert "No site power was recorded in this run." in page


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [(39, 42, "39 of 42 (92.9 %)"), (1999, 2000, "1,999 of 2,000 (99.9 %)"),
     (1, 2000, "1 of 2,000 (0.1 %)"), (0, 0, "0 of 0")],
)  # fmt: skip
def test_the_verified_share_never_rounds_to_all_or_nothing(
    part: int, whole: int, text: str
) -> None:
    assert share_text(part, whole) == text


def test_prices_use_the_currency_exponent() -> None:
    assert money_text(123_456, "IRR") == "1,234.56 IRR"
    assert money_text(1_500, "KWD") == "1.500 KWD"
    assert money_text(1_500, "XYZ") == "15.00 XYZ"  # unknown: two decimals
    assert money_text(None, "AED") == "—"
