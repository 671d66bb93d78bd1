"""The run explorer and the replay report through Streamlit's AppTest: with the quickstart run,
with no run at all, with a directory that is not a run, and with a doctored run."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.twin.ui.conftest import checked, metrics
from twin.ui.formats import evch_short
from twin.ui.picker import NO_RUN_YET

APP = Path(__file__).resolve().parents[3] / "twin" / "ui" / "app.py"
RUN_PAGES = ("run_explorer", "replay_report")
TIMEOUT_S = 120  # the first run imports the CSMS and replays every signed reading


def open_page(name: str, runs_root: Path, monkeypatch, typed: Path | None = None) -> AppTest:
    """The page run once over `runs_root` (as `evch ui --runs` sets it), or `typed` in."""
    monkeypatch.setenv("EVCH_UI_RUNS", str(runs_root))
    at = AppTest.from_file(APP.parent / "views" / f"{name}.py", default_timeout=TIMEOUT_S).run()
    if typed is not None:
        at.text_input[0].input(str(typed)).run()
    return checked(at)


@pytest.mark.parametrize("name", RUN_PAGES)
def test_with_no_run_yet_the_page_says_how_to_make_one(name, tmp_path, monkeypatch):
    at = open_page(name, tmp_path / "runs", monkeypatch)
    (info,) = at.info
    assert NO_RUN_YET in info.value and str(tmp_path / "runs") in info.value
    assert not at.error and not at.get("plotly_chart") and not at.metric


@pytest.mark.parametrize("name", RUN_PAGES)
def test_a_directory_that_is_not_a_run_is_named_with_what_it_lacks(
    name, runs_root, tmp_path, monkeypatch
):
    (tmp_path / "events.jsonl").write_text("")
    at = open_page(name, runs_root, monkeypatch, typed=tmp_path)
    (error,) = at.error
    assert str(tmp_path) in error.value and "has no manifest.json" in error.value
    assert not at.get("plotly_chart") and not at.metric
    at.text_input[0].input(str(tmp_path / "typo")).run()
    assert [e.value for e in at.error] == [f"{tmp_path / 'typo'} does not exist"]


def test_the_run_explorer_shows_the_quickstart_run(quickstart, runs_root, monkeypatch):
    at = open_page("run_explorer", runs_root, monkeypatch)
    manifest = json.loads((quickstart / "manifest.json").read_text())
    tokens = manifest["tokens"]
    assert at.title[0].value == "Run explorer"
    assert at.selectbox[0].value.path == quickstart
    shown = metrics(at)
    assert shown["Sessions"] == "42"
    assert shown["Energy"] == f"{manifest['energy_kwh']:,.1f} kWh"
    assert shown["Billed"] == f"{float(manifest['billed']['IRR']):,.0f} IRR"
    assert shown["Verified sessions"] == "42 of 42"
    assert shown["EVCH minted"] == evch_short(tokens["minted_raw"])
    assert shown["Peak tehran-pilot"] == f"{manifest['peak_kw']['tehran-pilot']:,.1f} of 250 kW"
    assert shown["Paid in EVCH"] == evch_short(tokens["paid_raw"])
    assert shown["Platform fees"] == evch_short(tokens["fees_raw"])
    # Site power, charger states, prices, EVCH over the run, EVCH per session.
    assert len(at.get("plotly_chart")) == 5
    (sessions,) = at.dataframe
    assert len(sessions.value) == manifest["sessions"] == 42
    assert sessions.value["energy_kwh"].sum() == pytest.approx(manifest["energy_kwh"], abs=1e-3)
    assert not at.error and not at.warning


def test_a_run_without_tokens_or_prices_says_so(quickstart, runs_root, tmp_path, monkeypatch):
    run = tmp_path / "plain"
    shutil.copytree(quickstart, run)
    (run / "ledger.jsonl").unlink()
    (run / "csms.sqlite").unlink()
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps(manifest | {"tokens": None, "ledger": None}))
    at = open_page("run_explorer", runs_root, monkeypatch, typed=run)
    assert metrics(at)["EVCH minted"] == "no tokens"
    assert [i.value for i in at.info] == [
        "No prices were published in this run.",
        "This run ran without tokens: there is no ledger log (ledger.jsonl).",
    ]
    assert len(at.get("plotly_chart")) == 2  # site power and charger states
    assert len(at.dataframe[0].value) == 42 and not at.error


def test_the_replay_report_reconciles_the_quickstart_run(runs_root, monkeypatch):
    at = open_page("replay_report", runs_root, monkeypatch)
    verdict = at.success[0].value
    assert verdict.startswith("**Reconciled**")
    shown = metrics(at)
    assert shown["Sessions"] == "42" and shown["Verified"] == "42 of 42"
    assert shown["EVCH minted"] == shown["EVCH earned"] != evch_short(0)
    assert shown["Sites within the limit"] == "1 of 1"
    # Site power, prices, sessions per charger, energy and mints, supply: the report's charts.
    assert len(at.get("plotly_chart")) == 5
    limits, sessions = at.dataframe
    assert limits.value.iloc[0]["verdict"] == "compliant"
    assert len(sessions.value) == 42 and (sessions.value["verification"] == "verified").all()
    assert [b.proto.label for b in at.get("download_button")] == [
        "Download report.html",
        "Download report.pdf",  # Chromium is installed here
    ]
    assert not at.error and not at.warning


def test_the_replay_report_flags_a_doctored_run_in_red(
    quickstart, runs_root, tmp_path, monkeypatch
):
    run = tmp_path / "doctored"
    shutil.copytree(quickstart, run)
    with sqlite3.connect(run / "csms.sqlite") as db:
        db.execute(  # the CSMS bills more than it told the driver
            "UPDATE charging_sessions SET total_cost_minor = total_cost_minor + 100 "
            "WHERE session_id = 1"
        )
    at = open_page("replay_report", runs_root, monkeypatch, typed=run)
    (verdict,) = at.error
    assert verdict.value.startswith("**Not reconciled**: 1 difference")
    (difference,) = at.dataframe[1].value["difference"]
    assert "the driver was told" in difference and "the CSMS billed" in difference


def test_no_pages_folder_beside_the_app():
    """Streamlit would run it as a v1 multipage app (its files in alphabetical order) and never
    call app.py's st.navigation: the pages live in views/."""
    assert not (APP.parent / "pages").exists(), "move the page files to twin/ui/views/"


def test_the_app_serves_both_run_pages(runs_root, monkeypatch):
    """Through app.py's navigation, as `evch ui` serves them."""
    monkeypatch.setenv("EVCH_UI_RUNS", str(runs_root))
    at = checked(AppTest.from_file(APP, default_timeout=TIMEOUT_S).run())
    for name, title in (("run_explorer", "Run explorer"), ("replay_report", "Replay report")):
        checked(at.switch_page(f"views/{name}.py").run())
        assert at.title[0].value == title
        assert len(at.get("plotly_chart")) == 5
