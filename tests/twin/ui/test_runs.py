"""What the views read of a run directory (twin/ui/runs.py and the tables built from it),
checked against the quickstart run's own manifest."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from twin.ui.charger_states import CHARGING, FAULT, charger_states
from twin.ui.runs import NotARunError, list_runs, load_run, run_info


def copy_run(run: Path, to: Path, started_at: str | None = None) -> Path:
    shutil.copytree(run, to)
    if started_at is not None:
        manifest = json.loads((to / "manifest.json").read_text())
        (to / "manifest.json").write_text(json.dumps(manifest | {"run_started_at": started_at}))
    return to


def test_runs_are_listed_newest_first_and_other_folders_skipped(quickstart: Path, tmp_path: Path):
    copy_run(quickstart, tmp_path / "older", "2025-01-01T00:00:00+00:00")
    copy_run(quickstart, tmp_path / "newer", "2025-06-01T00:00:00+00:00")
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "events.jsonl").write_text("")
    runs = list_runs(tmp_path)
    assert [run.path.name for run in runs] == ["newer", "older"]
    assert runs[0].label == "newer: quickstart, 2025-06-01 00:00 UTC, 42 sessions"
    assert list_runs(tmp_path / "nothing here") == []


def test_a_new_run_in_the_same_directory_changes_the_stamp(quickstart: Path, tmp_path: Path):
    run = copy_run(quickstart, tmp_path / "run")
    before = run_info(run).stamp
    later = before + 5_000_000_000
    os.utime(run / "manifest.json", ns=(later, later))
    assert run_info(run).stamp == later


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.write_text("x"), "is a file, not a run directory"),
        (lambda d: d.mkdir(), "has no manifest.json"),
    ],
)
def test_what_is_not_a_run_is_named(tmp_path: Path, make, says: str):
    path = tmp_path / "candidate"
    make(path)
    with pytest.raises(NotARunError, match=says) as raised:
        load_run(path)
    assert str(path) in str(raised.value)


def test_a_run_missing_a_table_or_with_a_damaged_one_is_named(quickstart: Path, tmp_path: Path):
    run = copy_run(quickstart, tmp_path / "run")
    (run / "site_power.parquet").unlink()
    with pytest.raises(NotARunError, match=r"not a complete run directory: no site_power\.parquet"):
        load_run(run)
    shutil.copy(quickstart / "site_power.parquet", run)
    (run / "sessions.parquet").write_bytes(b"not parquet")
    with pytest.raises(NotARunError, match=r"sessions\.parquet is unreadable"):
        load_run(run)


def test_the_token_flows_add_up_to_the_manifest(quickstart: Path):
    run = load_run(quickstart)
    tokens = run.manifest["tokens"]
    mints = run.tokens.mints
    assert len(mints) == tokens["sessions_minted"] == 36
    minted = mints[["driver_raw", "operator_raw", "reward_raw"]].to_numpy().sum()
    assert minted == tokens["minted_raw"] == run.tokens.supply["supply_raw"].iloc[-1]
    assert mints["reward_raw"].sum() == tokens["rewards_raw"]
    # Every mint is for a session of the run, named by its CSMS id.
    assert set(mints["session_id"]) <= set(run.sessions["session_id"])
    assert len(run.tokens.payments) == tokens["sessions_paid"] == 3
    assert run.tokens.payments["gross_raw"].sum() == tokens["paid_raw"]
    assert run.tokens.payments["fee_raw"].sum() == tokens["fees_raw"]


def test_a_run_without_tokens_or_csms_database_still_loads(quickstart: Path, tmp_path: Path):
    run = copy_run(quickstart, tmp_path / "run")
    (run / "ledger.jsonl").unlink()
    (run / "csms.sqlite").unlink()
    loaded = load_run(run)
    assert loaded.tokens is None and loaded.prices.empty and len(loaded.sessions) == 42


def test_charger_states_follow_the_events(quickstart: Path):
    run = load_run(quickstart)
    end = pd.to_datetime(run.site_power["interval_end"], utc=True).max()
    states = charger_states(run.events, end)
    charging = states[states["state"] == CHARGING]
    assert len(charging) == len(run.sessions) == 42
    # Each session charges on its bay from its start (the twin's events agree with the table).
    by_arrival = charging.set_index("detail")
    for session in run.sessions.itertuples():
        assert by_arrival.loc[session.arrival_id, "start"] == session.start
        assert by_arrival.loc[session.arrival_id, "bay"] == (
            f"{session.charger_id} / {session.evse_id}"
        )
    (fault,) = states[states["state"] == FAULT].itertuples()
    assert fault.bay == "tehran-ac22-2" and fault.detail == "disconnect"
    assert fault.end - fault.start == pd.Timedelta(minutes=20)
    assert (states["end"] <= end).all() and (states["end"] > states["start"]).all()
