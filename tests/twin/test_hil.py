"""HIL end to end: the twin in real time against an external CSMS, with a real charger.

Three processes, as on a rig: `evch serve` (the CSMS), a third-party charger speaking for the
hardware (npm ocpp-rpc, tests/interop/hardware_charger.mjs) and `evch run --realtime` with the
emulated chargers of scenarios/hil_lab.toml, whose `[[hardware]]` lists the stand-in. One
simulated hour runs in one wall minute (speed 60); the stand-in's meter keeps that pace.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import free_port
from tests.evch_process import EVCH

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "hil_lab.toml"
INTEROP = ROOT / "tests" / "interop"
SPEED = 60
ADMIN_TOKEN = "hil-test-admin-token"
REAL = "lab-wallbox-1"  # the scenario's [[hardware]] charger
TEST_CARD = "HIL-TEST-0001"
LAB = "hil-lab"

pytestmark = pytest.mark.interop


@dataclass(frozen=True)
class HilRun:
    run_dir: Path
    output: str  # what `evch run` printed
    stand_in: list[dict]  # the stand-in's events (JSON lines)
    csms_sessions: list[dict]  # the real charger's sessions, as the CSMS's API shows them
    wall_s: float


def _evch(*args: str) -> list[str]:
    return [*EVCH, *args]


def _wait(until, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if until():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


@pytest.fixture(scope="module")
def hil(tmp_path_factory) -> HilRun:
    node = shutil.which("node")
    assert node, "Node.js is required for the HIL test"
    assert (INTEROP / "node_modules" / "ocpp-rpc").is_dir(), "run: npm ci --prefix tests/interop"
    tmp = tmp_path_factory.mktemp("hil")
    ocpp_port, api_port = free_port(), free_port()
    ocpp_url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
    api_url = f"http://127.0.0.1:{api_port}/api/v1"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    serve = subprocess.Popen(
        _evch(
            "serve",
            "--ocpp-port", str(ocpp_port),
            "--api-port", str(api_port),
            "--auto-register",
            "--database-url", f"sqlite:///{tmp / 'csms.db'}",
            "--admin-token", ADMIN_TOKEN,
            "--log-level", "WARNING",
        ),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    stand_in = None
    try:
        _wait(lambda: httpx.get(f"{api_url}/health").is_success, 30, "evch serve")
        stand_in = subprocess.Popen(
            [node, str(INTEROP / "hardware_charger.mjs"), ocpp_url, REAL, "7.4"],
            cwd=INTEROP,
            env={**os.environ, "SPEED": str(SPEED), "METER_INTERVAL_MS": "500"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def online() -> bool:
            answer = httpx.get(f"{api_url}/chargers/{REAL}", headers=headers)
            return answer.is_success and answer.json()["online"]

        _wait(online, 30, "the stand-in to boot")
        started = time.monotonic()
        run = subprocess.run(
            _evch(
                "run", str(SCENARIO),
                "--out", str(tmp / "run"),
                "--realtime", "--speed", str(SPEED),
                "--csms-url", ocpp_url,
                "--api-url", api_url,
                "--api-token", ADMIN_TOKEN,
            ),
            cwd=ROOT, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        wall_s = time.monotonic() - started
        assert run.returncode == 0, run.stdout + run.stderr
        answer = httpx.get(f"{api_url}/sessions", params={"charger_id": REAL}, headers=headers)
        sessions = answer.json()
    finally:
        stand_in_output = _stop(stand_in) if stand_in is not None else ""
        serve_output = _stop(serve)
    events = [json.loads(line) for line in stand_in_output.splitlines() if line.startswith("{")]
    assert events and events[-1]["event"] == "summary", stand_in_output + serve_output
    return HilRun(tmp / "run", run.stdout + run.stderr, events, sessions, wall_s)


def _table(hil: HilRun, name: str) -> pd.DataFrame:
    return pd.read_parquet(hil.run_dir / name)


def test_the_real_charger_is_started_and_stopped_through_the_csms(hil: HilRun):
    commands = [e for e in hil.stand_in if e["event"] == "command"]
    starts = [e for e in commands if e["method"] == "RemoteStartTransaction"]
    stops = [e for e in commands if e["method"] == "RemoteStopTransaction"]
    assert starts and all(e["params"]["idTag"] == TEST_CARD for e in starts)
    started = {e["transactionId"] for e in hil.stand_in if e["event"] == "started"}
    stopped = {e["transactionId"]: e for e in hil.stand_in if e["event"] == "stopped"}
    assert started and started == set(stopped)  # every session it started was stopped
    assert {e["params"]["transactionId"] for e in stops} == started
    assert all(e["reason"] == "Remote" for e in stopped.values())
    summary = hil.stand_in[-1]
    assert summary["ok"] and summary["strictValidationFailures"] == 0, summary

    # The CSMS has them, completed, with the test card; the run's sessions mark them real.
    by_ref = {s["transaction_ref"]: s for s in hil.csms_sessions}
    assert {str(t) for t in started} <= set(by_ref)
    sessions = _table(hil, "sessions.parquet")
    real = sessions[sessions["real"]]
    assert set(real["charger_id"]) == {REAL}
    assert set(real["transaction_id"]) == {str(t) for t in started}
    for row in real.itertuples():
        stored = by_ref[row.transaction_id]
        assert stored["state"] == "Completed" and stored["id_token"] == TEST_CARD
        assert stored["stop_reason"] == "Remote"
        assert row.session_id == stored["session_id"]
        metered = stopped[int(row.transaction_id)]
        assert row.energy_wh == metered["meterStop"] - metered["meterStart"]
        assert row.energy_wh > 1000
    assert not sessions[~sessions["real"]]["charger_id"].eq(REAL).any()
    assert len(sessions[~sessions["real"]]) >= 2  # the emulated chargers charged too

    manifest = json.loads((hil.run_dir / "manifest.json").read_text())
    assert manifest["time"] == "realtime" and manifest["realtime"]["speed"] == SPEED
    assert manifest["hardware"] == [
        {
            "charger_id": REAL,
            "site_id": LAB,
            "protocol": "1.6",
            "evses": 1,
            "max_power_kw": 7.4,
            "real": True,
        }
    ]
    events = [json.loads(line) for line in (hil.run_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "start" and e.get("real") for e in events)


def test_its_energy_is_in_the_site_power_within_the_limit(hil: HilRun):
    sessions = _table(hil, "sessions.parquet")
    power = _table(hil, "site_power.parquet")
    lab = power[power["site_id"] == LAB]
    emulated_wh = sessions[(sessions["site_id"] == LAB) & ~sessions["real"]]["energy_wh"].sum()
    real_wh = sessions[sessions["real"]]["energy_wh"].sum()
    # What the site drew beyond its emulated charger is the real charger's measured energy
    # (its power read every simulated minute: a few per cent off its register at most).
    beyond_emulated_wh = lab["energy_wh"].sum() - emulated_wh
    assert beyond_emulated_wh == pytest.approx(real_wh, rel=0.15)
    # The CSMS shared the lab's connection between the real and the emulated charger.
    assert lab["peak_power_kw"].max() <= lab["grid_limit_kw"].max() + 1e-6
    assert lab["peak_power_kw"].max() > 7.4  # both charged at once


def test_the_run_directory_replays_and_marks_the_real_charger(hil: HilRun):
    replay = subprocess.run(
        _evch("replay", str(hil.run_dir)),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "real chargers" in replay.stdout and REAL in replay.stdout
    report = (hil.run_dir / "report.html").read_text()
    assert '<span id="real-chargers"><code>lab-wallbox-1</code></span>' in report


def test_real_time_accuracy_and_duration(hil: HilRun):
    manifest = json.loads((hil.run_dir / "manifest.json").read_text())
    lag = manifest["realtime"]["lag"]
    assert lag["events"] > 100
    assert lag["p50_ms"] < 50 and lag["p99_ms"] < 500, lag
    assert "real-time lag" in hil.output
    # One simulated hour at speed 60 is a minute of wall time, plus onboarding and the stop.
    assert 55 < hil.wall_s < 100
