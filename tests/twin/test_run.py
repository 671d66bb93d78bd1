"""End-to-end runs of the twin: scenario file → emulated chargers ↔ CSMS over real WebSockets.

These runs prove the invariants of the twin: energy is conserved from the battery to the meter
to the CSMS's database, every arrival is served or refused with a reason, a seed gives the same
run, both OCPP versions share one fleet, and a disconnect loses nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evch.cli import app
from programs.spl.token2022 import TOKEN_2022_PROGRAM_ID
from tests.twin.acn_files import acn_row, write_sessions_csv
from twin.runner import RunSummary, run_scenario
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
EV_MODELS = ROOT / "scenarios" / "data" / "ev_models.json"


def run(scenario_file: Path, out_dir: Path) -> RunSummary:
    return asyncio.run(run_scenario(load_scenario(scenario_file), out_dir))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("quickstart")
    run(QUICKSTART, out_dir)
    return out_dir


def assert_energy_conserved(sessions: pd.DataFrame) -> None:
    """Battery gain / efficiency = metered energy = what the CSMS stored, to the Wh."""
    assert (sessions["energy_wh"] == sessions["csms_energy_wh"]).all()
    battery_side_wh = sessions["ev_energy_wh"] / sessions["efficiency"]
    # The meter shows whole Wh at start and stop: the difference of two roundings is < 1 Wh.
    assert ((battery_side_wh - sessions["energy_wh"]).abs() < 1.0).all()


def test_quickstart_writes_a_complete_run_directory(quickstart: Path):
    for name in (
        "scenario.toml", "manifest.json", "ocpp_frames.jsonl", "events.jsonl",
        "sessions.parquet", "site_power.parquet",
    ):  # fmt: skip
        assert (quickstart / name).stat().st_size > 0, name
    assert (quickstart / "scenario.toml").read_text() == QUICKSTART.read_text()
    manifest = json.loads((quickstart / "manifest.json").read_text())
    assert manifest["seed"] == 42
    assert manifest["scenario_sha256"] == load_scenario(QUICKSTART).sha256
    assert manifest["packages"]["ocpp"] and manifest["wall_time_s"] > 0
    frames = jsonl(quickstart / "ocpp_frames.jsonl")
    assert manifest["frames"] == len(frames)
    assert {f["dir"] for f in frames} == {"in", "out"}
    assert frames[0]["t"].startswith("2025-01-05T20:30:00")  # virtual time: local midnight
    actions = {json.loads(f["frame"])[2] for f in frames if f["frame"].startswith("[2")}
    assert {"StartTransaction", "StopTransaction", "TransactionEvent", "MeterValues"} <= actions


def test_every_session_conserves_energy_in_a_mixed_fleet(quickstart: Path):
    sessions = pd.read_parquet(quickstart / "sessions.parquet")
    assert set(sessions["protocol"]) == {"1.6", "2.0.1"}
    assert (sessions["csms_state"] == "Completed").all()
    assert sessions["energy_wh"].sum() > 100_000
    assert_energy_conserved(sessions)
    assert (sessions["start"] >= sessions["arrival"]).all()
    assert (sessions["stop"] <= sessions["departure"]).all()


def test_every_arrival_is_served_or_refused_with_a_reason(quickstart: Path):
    events = jsonl(quickstart / "events.jsonl")
    arrivals = {e["arrival_id"] for e in events if e["event"] == "arrival"}
    refused = {e["arrival_id"]: e["reason"] for e in events if e["event"] == "refused"}
    served = set(pd.read_parquet(quickstart / "sessions.parquet")["arrival_id"])
    assert arrivals == served | set(refused)
    assert not served & set(refused)
    assert refused and set(refused.values()) <= {"authorization_rejected", "no_free_evse"}


def test_site_power_accounts_for_all_metered_energy(quickstart: Path):
    power = pd.read_parquet(quickstart / "site_power.parquet")
    sessions = pd.read_parquet(quickstart / "sessions.parquet")
    assert len(power) == 24 * 12  # 5-minute intervals over the day
    assert power["energy_wh"].sum() == pytest.approx(sessions["energy_wh"].sum(), abs=len(sessions))
    assert (power["peak_power_kw"] >= power["mean_power_kw"] - 1e-9).all()


def test_the_same_seed_gives_the_same_run(quickstart: Path, tmp_path: Path):
    run(QUICKSTART, tmp_path)
    for name in ("ocpp_frames.jsonl", "events.jsonl"):
        assert (tmp_path / name).read_bytes() == (quickstart / name).read_bytes(), name
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "sessions.parquet"),
        pd.read_parquet(quickstart / "sessions.parquet"),
    )


def _replay_scenario(tmp_path: Path, sessions_csv: str, extra: str = "", drivers: int = 1) -> Path:
    """A small replay scenario: one site, a 1.6 and a 2.0.1 charger, sessions given as CSV."""
    write_sessions_csv(tmp_path / "sessions.csv", sessions_csv)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        f"""
[scenario]
name = "small"
start = 2019-06-10T00:00:00
time_zone = "America/Los_Angeles"
duration_h = 24
seed = 1

[timing]
meter_interval_s = 300

[[sites]]
id = "lot"
name = "Lot"
location = {{ latitude = 34.1, longitude = -118.1 }}
currency = "USD"
grid_limit_kw = 100
chargers = [
    {{ id = "OLD", protocol = "1.6", max_power_kw = 7 }},
    {{ id = "NEW", protocol = "2.0.1", evses = 2, max_power_kw = 7 }},
]

[ev_population]
models_file = "{EV_MODELS}"
shares = {{ "Tesla Model 3" = 1.0 }}

[drivers]
count = {drivers}

[arrivals]
kind = "sessions_csv"
path = "sessions.csv"
start = 2019-06-10
days = 1
{extra}
"""
    )
    return scenario


def test_a_disconnect_mid_session_loses_no_energy_and_no_session(tmp_path: Path):
    # One driver: a session spanning the outage's start, then one begun while offline (the
    # charger authorises from its cache) and stopped after the connection is back.
    csv = acn_row("06:00:00", "09:10:00", 12.0, "NEW", 1) + acn_row(
        "09:20:00", "11:00:00", 8.0, "NEW", 2
    )
    scenario = _replay_scenario(
        tmp_path,
        csv,
        '\n[[faults]]\nkind = "disconnect"\ncharger = "NEW"\nat_h = 9\nduration_min = 60\n',
    )
    out = tmp_path / "run"
    summary = run(scenario, out)
    sessions = pd.read_parquet(out / "sessions.parquet")
    assert summary.sessions == 2 and not summary.refused
    assert (sessions["csms_state"] == "Completed").all()
    assert_energy_conserved(sessions)
    assert list(sessions["energy_wh"]) == [12_000, 8_000]
    events = [e["event"] for e in jsonl(out / "events.jsonl")]
    assert "fault_start" in events and "fault_end" in events
    # The transaction messages of the outage reached the CSMS after it, with their own times.
    frames = jsonl(out / "ocpp_frames.jsonl")
    late_start = [
        f for f in frames
        if '"Started"' in f["frame"] and f["t"] >= "2019-06-10T17:00:00"
    ]  # fmt: skip
    assert late_start and '"timestamp":"2019-06-10T16:20:00' in late_start[0]["frame"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("any_free", {"remapped": 2, "refused": {}}), ("refuse", {"remapped": 0, "refused": 2})],
)
def test_unknown_or_busy_stations_are_handled(tmp_path: Path, policy: str, expected: dict):
    csv = (
        acn_row("08:00:00", "12:00:00", 5.0, "OLD", 1)
        + acn_row("09:00:00", "10:00:00", 3.0, "OLD", 2)  # OLD has one EVSE and it is taken
        + acn_row("09:00:00", "10:00:00", 3.0, "CA-999", 3)  # no such station
    )
    scenario = _replay_scenario(tmp_path, csv, f'unknown_station = "{policy}"', drivers=3)
    out = tmp_path / "run"
    summary = run(scenario, out)
    sessions = pd.read_parquet(out / "sessions.parquet")
    assert sessions["remapped"].notna().sum() == expected["remapped"]
    if policy == "refuse":
        assert summary.refused == {"station_busy": 1, "unknown_station": 1}
    else:
        assert not summary.refused and set(sessions["charger_id"]) == {"OLD", "NEW"}
        assert set(sessions["remapped"].dropna()) == {"station_busy", "unknown_station"}


def test_validate_reports_every_problem_and_run_refuses_a_bad_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(QUICKSTART.read_text().replace('protocol = "1.6"', 'protocol = "1.5"')
                   .replace("grid_limit_kw = 250", "grid_limit_kw = -1"))  # fmt: skip
    out = tmp_path / "run"
    for command in (["validate", str(bad)], ["run", str(bad), "--out", str(out)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "sites[0].chargers[0].protocol" in result.output
        assert "sites[0].grid_limit_kw" in result.output
    assert not out.exists()  # nothing ran
    ok = CliRunner().invoke(app, ["validate", str(QUICKSTART)])
    assert ok.exit_code == 0 and "valid" in ok.output


def test_the_quickstart_mints_evch_for_its_sessions_and_reconciles(quickstart: Path):
    """[tokens]: a Proof-of-Charge per completed session of a KYC-approved driver, minted on
    the embedded ledger, the on-chain balances equal to what the sessions earn to the raw unit,
    and every ledger transaction in ledger.jsonl."""
    manifest = json.loads((quickstart / "manifest.json").read_text())
    minted = manifest["tokens"]
    assert minted["reconciled"] and minted["differences"] == []
    assert minted["minted_raw"] == minted["expected_raw"] > 0
    sessions = pd.read_parquet(quickstart / "sessions.parquet")
    assert minted["sessions_minted"] + minted["sessions_blocked"] == len(sessions)
    assert minted["sessions_minted"] > minted["sessions_blocked"] > 0  # KYC refuses some
    # Roughly 1 EVCH (10**6 raw) per verified kWh, split between driver and operator.
    kwh = sessions["energy_wh"].sum() / 1000
    assert 0.8 * kwh * 10**6 < minted["minted_raw"] <= kwh * 10**6
    ledger = [json.loads(line) for line in (quickstart / "ledger.jsonl").read_text().splitlines()]
    poc = manifest["ledger"]["proof_of_charge_program"]
    records = [t for t in ledger if any(i["program"] == poc for i in t["instructions"])]
    recorded = [t for t in records if t["ok"]]
    assert len(recorded) >= minted["sessions_minted"]
    assert all(t["signature"] and t["compute_units"] > 0 for t in ledger)

    # Half the drivers pay in EVCH once they hold enough: one transfer with fee per payment.
    assert minted["sessions_paid"] > 0 and minted["fees_raw"] > 0
    transfers = [
        t
        for t in ledger
        for i in t["instructions"]
        if i["program"] == str(TOKEN_2022_PROGRAM_ID)
        and base64.b64decode(i["data"])[:2] == b"\x1a\x01"
    ]
    assert len(transfers) == minted["sessions_paid"] and all(t["ok"] for t in transfers)
    events = [json.loads(line) for line in (quickstart / "events.jsonl").read_text().splitlines()]
    paid = [e for e in events if e["event"] == "paid_evch"]
    assert len(paid) == minted["sessions_paid"]
    assert sum(e["gross_raw"] for e in paid) == minted["paid_raw"]


def test_the_quickstart_carries_signed_readings_and_its_replay_reconciles(quickstart: Path):
    """Every session's start and stop readings are signed (OCMF) and verified by the CSMS; the
    replay rebuilds them from the frames alone and agrees with the CSMS and the ledger."""
    from twin.replay import replay

    audit = replay(quickstart)
    manifest = json.loads((quickstart / "manifest.json").read_text())
    assert audit.reconciled, audit.differences
    assert len(audit.sessions) == manifest["sessions"] == manifest["verified_sessions"]
    assert not audit.exceptions and manifest["unverified_sessions"] == {}
    assert {s.protocol for s in audit.sessions} == {"1.6", "2.0.1"}
    assert all(s.signature and s.meter_serial for s in audit.sessions)
    assert sum(s.minted_raw or 0 for s in audit.sessions) == manifest["tokens"]["minted_raw"]
    assert all(limit.compliant for limit in audit.limits)
    result = CliRunner().invoke(app, ["replay", str(quickstart)])
    assert result.exit_code == 0, result.output
    assert (quickstart / "report.html").stat().st_size > 0
