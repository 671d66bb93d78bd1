"""Interop with software nobody here wrote: the npm package ocpp-rpc in strict-validation mode.

Both directions, both protocol versions, full flows from boot to a stopped transaction, with
zero strict-validation failures on the third-party side. `.ci/run` installs the Node packages
(`npm ci --prefix tests/interop`); without them these tests fail, they do not skip.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from central_system.domain.model import SessionState
from chargers_sim import ChargerConfig, emulated_charger
from tests.conftest import VALID_TOKEN

HERE = Path(__file__).parent
pytestmark = pytest.mark.interop

COMMAND_SETTINGS = {
    "ocpp1.6": ["HeartbeatInterval", "MeterValueSampleInterval"],
    "ocpp2.0.1": ["OCPPCommCtrlr.HeartbeatInterval"],
}


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    assert path, "Node.js is required for the interop tests"
    assert (HERE / "node_modules" / "ocpp-rpc").is_dir(), "run: npm ci --prefix tests/interop"
    return path


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_third_party_charger_against_our_csms(node, csms, protocol):
    charger_id = f"RPC-{protocol.removeprefix('ocpp')}"
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / "third_party_charger.mjs"),
        csms.ocpp_url,
        charger_id,
        protocol,
        VALID_TOKEN,
        env={"LINGER_MS": "4000", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=HERE,
    )
    try:
        session = await _completed_session(csms, charger_id)
        assert session.energy_wh == 7_500  # meter 1,000 -> 8,500 Wh in the scripted flow
        assert session.id_token == VALID_TOKEN

        # While it lingers, every command of its version, through the version-agnostic link.
        link = csms.gateway.link(charger_id)
        settings = await link.get_settings(COMMAND_SETTINGS[protocol])
        assert set(settings) == set(COMMAND_SETTINGS[protocol])
        assert await link.set_setting(COMMAND_SETTINGS[protocol][0], "120") == "Accepted"
        assert await link.trigger_message("Heartbeat") == "Accepted"
        assert await link.change_availability(1, operative=False) == "Accepted"
        assert await link.unlock_connector(1) == "Unlocked"
        assert await link.remote_start(VALID_TOKEN, 1, 7) == "Accepted"
        assert await link.remote_stop("1" if protocol == "ocpp1.6" else "tx-1") == "Accepted"
        assert await link.reset(hard=False) == "Accepted"
    finally:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    events = [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]
    summary = events[-1]
    assert summary["event"] == "summary", stderr.decode()
    assert summary["strictValidationFailures"] == 0, events
    assert summary["mismatches"] == [], summary
    assert summary["ok"] is True and process.returncode == 0


async def _completed_session(csms, charger_id):
    for _ in range(300):
        sessions = await csms.service.list_sessions(charger_id)
        if sessions and sessions[0].state is SessionState.COMPLETED:
            return sessions[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{charger_id} never completed a session")


async def test_our_chargers_against_a_third_party_csms(node, tmp_path, unused_tcp_port):
    summary_file = tmp_path / "summary.json"
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / "third_party_csms.mjs"),
        str(unused_tcp_port),
        env={
            "SUMMARY_FILE": str(summary_file),
            "ID_TAG": VALID_TOKEN,
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=HERE,
    )
    chargers = []
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 20)).strip() == b"LISTENING"
        for version in ("1.6", "2.0.1"):
            charger = emulated_charger(
                ChargerConfig(
                    f"EMU-{version}",
                    f"ws://127.0.0.1:{unused_tcp_port}/ocpp",
                    ocpp_version=version,
                    reconnect_initial_s=0.1,
                    meter_interval_s=1,
                )
            )
            chargers.append(charger)
            await charger.power_on()
        clients = await _wait_done(summary_file, [c.id for c in chargers])
    finally:
        for charger in chargers:
            await charger.power_off()
        process.terminate()
        await asyncio.wait_for(process.communicate(), 20)

    for charger in chargers:
        client = clients[charger.id]
        assert client["strictValidationFailures"] == 0, client["errors"]
        assert client["errors"] == []
        assert all("response" in command for command in client["commands"]), client["commands"]
        received = client["received"]
        if charger.config.ocpp_version == "1.6":
            assert received["StartTransaction"] == 1 and received["StopTransaction"] == 1
        else:
            events = [
                m["params"]["eventType"]
                for m in client["receivedMessages"]
                if m["method"] == "TransactionEvent"
            ]
            assert events[0] == "Started" and events[-1] == "Ended"
        assert received["BootNotification"] >= 1 and received["StatusNotification"] >= 1


async def _wait_done(summary_file: Path, charger_ids: list[str]) -> dict:
    for _ in range(600):
        if summary_file.exists():
            clients = json.loads(summary_file.read_text())["clients"]
            if all(clients.get(i, {}).get("done") for i in charger_ids):
                return clients
        await asyncio.sleep(0.05)
    raise AssertionError(f"the third-party CSMS never finished: {summary_file.read_text()}")
