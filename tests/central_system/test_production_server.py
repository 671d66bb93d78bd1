"""`evch serve --config FILE` as a production service: settings from a file, the environment
and flags; JSON logs; /health, /ready and /metrics; a graceful shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from central_system.app import CentralSystem
from central_system.config import Settings
from central_system.config_file import ConfigError, load_settings
from central_system.domain.model import IdToken, IdTokenStatus, SessionState
from central_system.store import Database, migrate
from central_system.store import repository as repo
from chargers_sim import ChargerConfig, emulated_charger
from evch.cli import app
from evch.serve_tokens import ServeTokens, attach_token_service, open_ledger
from tests.conftest import VALID_TOKEN, csms_settings, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "central_system" / "evch.example.toml"


@pytest.fixture
def clean_environment(monkeypatch) -> None:
    """No EVCH_* setting of the machine running the tests leaks into these."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"EVCH_{name.upper()}", raising=False)


# -- the settings ----------------------------------------------------------------------------


def test_a_flag_beats_the_environment_which_beats_the_file(
    tmp_path, monkeypatch, clean_environment
):
    config = tmp_path / "evch.toml"
    config.write_text(
        'ocpp_port = 9101\napi_port = 9102\nheartbeat_interval_s = 60\ntoken_settings = "t.toml"\n'
    )
    monkeypatch.setenv("EVCH_OCPP_PORT", "9201")
    monkeypatch.setenv("EVCH_API_PORT", "9202")
    settings = load_settings(config, {"api_port": 9302})
    assert settings.api_port == 9302  # flag over environment
    assert settings.ocpp_port == 9201  # environment over file
    assert settings.heartbeat_interval_s == 60  # file over default
    assert settings.replan_interval_s == 300  # the default
    assert settings.token_settings == tmp_path / "t.toml"  # read from the file's folder


def test_bad_settings_are_refused_with_where_they_came_from(tmp_path, clean_environment):
    config = tmp_path / "bad.toml"
    config.write_text(
        '# the service\nhost = "127.0.0.1"\nocpp_prot = 9000\n\nheartbeat_interval_s = "often"\n'
        "[tls]\ncert = 1\n"
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert [str(p) for p in refused.value.problems] == [
        f"{config}:3: ocpp_prot: unknown key (did you mean 'ocpp_port'?)",
        f"{config}:6: tls: unknown table; the settings are flat keys: "
        + ", ".join(Settings.model_fields),
    ]
    config.write_text('log_format = "json"\nheartbeat_interval_s = "often"\n')
    result = CliRunner().invoke(
        app, ["serve", "--config", str(config)], env={"EVCH_API_PORT": "x", "COLUMNS": "250"}
    )
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{config}:2: heartbeat_interval_s: Input should be a valid integer, unable to parse "
        "string as an integer (got 'often')",
        "EVCH_API_PORT: Input should be a valid integer, unable to parse string as an integer "
        "(got 'x')",
    ]
    config.write_text("ocpp_port = = 1\n")
    result = CliRunner().invoke(app, ["serve", "--config", str(config)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert f"{config}:1: invalid TOML: Invalid value (column 13)" in result.output


def test_the_example_file_loads_and_documents_every_setting(clean_environment):
    settings = load_settings(EXAMPLE)
    assert settings.log_format == "json" and settings.ocpp_port == 9000
    text = EXAMPLE.read_text()
    for name in Settings.model_fields:
        documented = f"{name} =" in text or f"EVCH_{name.upper()}" in text
        assert documented, f"{name} is not in {EXAMPLE.name}"


# -- the service, as a subprocess ------------------------------------------------------------


@dataclass
class Service:
    process: asyncio.subprocess.Process
    api: str  # http://127.0.0.1:PORT
    lines: list[str] = field(default_factory=list)  # stderr so far

    async def metrics(self) -> dict[tuple[str, tuple], float]:
        async with httpx.AsyncClient(base_url=self.api, timeout=10) as http:
            response = await http.get("/metrics")
        assert response.status_code == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


@asynccontextmanager
async def evch_serve(api_port: int, *args: str, env: dict[str, str]) -> AsyncIterator[Service]:
    """`evch serve ARGS`, once /ready answers 200 on ``api_port``; killed if still running."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", "from evch.cli import app; app()", "serve", *args),
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"COLUMNS": "200"} | env,
    )
    service = Service(process, f"http://127.0.0.1:{api_port}")

    async def read_stderr() -> None:
        while line := await process.stderr.readline():
            service.lines.append(line.decode())

    reader = asyncio.create_task(read_stderr())
    try:
        async with httpx.AsyncClient(base_url=service.api, timeout=2) as http:
            async with asyncio.timeout(60):
                while True:
                    assert process.returncode is None, "".join(service.lines)
                    with suppress(httpx.TransportError):
                        if (await http.get("/ready")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
        yield service
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader


def seeded_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'evch.db'}"
    migrate(url)
    db = Database(url)
    db.run(repo.upsert_id_token, IdToken(VALID_TOKEN, "ISO14443", IdTokenStatus.ACTIVE))
    db.close()
    return url


def service_config(tmp_path: Path, database_url: str, **values: object) -> Path:
    config = tmp_path / "evch.toml"
    lines = [f'database_url = "{database_url}"', "auto_register = true"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    config.write_text("\n".join(lines) + "\n")
    return config


async def test_a_service_run_logs_json_serves_probes_and_counts_a_transaction(tmp_path):
    """The file, overridden by the environment (OCPP port), overridden by a flag (API port);
    an emulated charger runs a transaction and the metrics move; every log line is JSON."""
    url = seeded_database(tmp_path)
    ocpp_port, api_port = free_port(), free_port()
    config = service_config(
        tmp_path, url, ocpp_port=free_port(), api_port=free_port(), log_format="json"
    )
    env = {"EVCH_OCPP_PORT": str(ocpp_port), "EVCH_API_PORT": str(free_port())}
    args = ("--config", str(config), "--api-port", str(api_port))
    async with evch_serve(api_port, *args, env=env) as service:
        async with httpx.AsyncClient(base_url=service.api, timeout=10) as http:
            health = await http.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            ready = (await http.get("/ready")).json()
            assert ready == {
                "status": "ready",
                "checks": {"database": {"ok": True}, "ocpp": {"ok": True}},
            }
        before = await service.metrics()
        csms_url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        charger = emulated_charger(ChargerConfig("CP-LOG", csms_url))
        await charger.power_on()
        try:
            await charger.wait_online()
            await charger.plug_in(1)
            await charger.start_transaction(1, VALID_TOKEN)
            charger.set_power(1, 11_000)
            await asyncio.sleep(0.5)
            during = await service.metrics()
            await charger.stop_transaction(1)
            await charger.settle()
            # A charger's unknown action (a CALLERROR), and a handshake on a wrong path.
            async with connect(f"{csms_url}/RAW-1", subprotocols=["ocpp1.6"]) as raw:
                await raw.send(json.dumps([2, "1", "FooBar", {}]))
                assert json.loads(await raw.recv())[2] == "NotImplemented"
            with pytest.raises(InvalidStatus):
                async with connect(f"ws://127.0.0.1:{ocpp_port}/elsewhere"):
                    pass
            after = await service.metrics()
        finally:
            await charger.power_off()
        assert await service.terminate() == 0

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    calls = "evch_ocpp_calls_received_total"
    v16 = {"ocpp_version": "1.6"}
    assert during[("evch_ocpp_connected_chargers", tuple(v16.items()))] == 1
    assert during[("evch_sessions_active", ())] == 1
    for action in ("BootNotification", "StatusNotification", "StartTransaction", "StopTransaction"):
        assert moved(calls, **v16, action=action, outcome="result") >= 1, action
    assert moved(calls, **v16, action="(invalid)", outcome="NotImplemented") == 1
    handled = "evch_ocpp_call_handling_seconds_count"
    assert moved(handled, **v16, action="StartTransaction") == 1
    assert moved("evch_ocpp_handshake_refusals_total", reason="not_found") == 1
    assert moved("evch_sessions_started_total") == 1
    assert moved("evch_sessions_stopped_total") == 1
    assert moved("evch_energy_delivered_wh_total") > 0
    assert after[("evch_sessions_active", ())] == 0
    assert after[("evch_db_write_queue_depth", ())] >= 0

    records = [json.loads(line) for line in service.lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    connected = [r for r in records if r["message"].startswith("CP-LOG connected")]
    assert connected and connected[0]["charger_id"] == "CP-LOG"
    assert connected[0]["ocpp_version"] == "1.6" and connected[0]["level"] == "INFO"
    by_field = {key: r[key] for r in records for key in ("api_url", "ocpp_url") if key in r}
    assert by_field == {
        "api_url": f"http://127.0.0.1:{api_port}/api/v1",  # the flag's port
        "ocpp_url": csms_url,  # the environment's port
    }


async def test_sigterm_leaves_open_sessions_open_and_closes_chargers_normally(tmp_path):
    """SIGTERM with a session under way: exit 0, the session still active in the database (the
    next start resumes it), and the charger told nothing but a 1001 (going away) close."""
    url = seeded_database(tmp_path)
    ocpp_port, api_port = free_port(), free_port()
    config = service_config(tmp_path, url, ocpp_port=ocpp_port, api_port=api_port)
    frames: list[tuple[str, list]] = []
    charger = emulated_charger(
        ChargerConfig("CP-OPEN", f"ws://127.0.0.1:{ocpp_port}/ocpp", reconnect_initial_s=0.2),
        frame_observer=lambda _id, direction, frame: frames.append((direction, json.loads(frame))),
    )
    try:
        async with evch_serve(api_port, "--config", str(config), env={}) as service:
            await charger.power_on()
            await charger.wait_online()
            await charger.plug_in(1)
            await charger.start_transaction(1, VALID_TOKEN)
            charger.set_power(1, 7_000)
            await charger.settle()
            assert (await service.metrics())[("evch_sessions_active", ())] == 1
            seen = len(frames)
            assert await service.terminate() == 0
            assert any("shutting down" in line for line in service.lines)
        websocket = charger._websocket  # the connection the service closed (read, not patched)
        assert websocket.close_code == 1001  # received from the service (1006: none came)
        calls_after = [f[1][2] for f in frames[seen:] if f[0] == "in" and f[1][0] == 2]
        assert calls_after == []  # no RemoteStopTransaction, nothing at all
        db = Database(url)
        sessions = db.run(repo.list_sessions, "CP-OPEN", None, 10, 0)
        db.close()
        assert [(s.state, s.stopped_at) for s in sessions] == [(SessionState.ACTIVE, None)]
        # The next start resumes it; the charger reconnects and carries on.
        async with evch_serve(api_port, "--config", str(config), env={}) as service:
            assert (await service.metrics())[("evch_sessions_active", ())] == 1
            await charger.wait_online()
            await charger.stop_transaction(1)
            await charger.settle()
            assert (await service.metrics())[("evch_sessions_active", ())] == 0
            assert await service.terminate() == 0
    finally:
        await charger.power_off()


# -- the shutdown, in process ----------------------------------------------------------------


async def boot(websocket) -> None:
    frame = [2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
    await websocket.send(json.dumps(frame))


async def test_shutdown_answers_the_calls_under_way_before_closing(csms, monkeypatch):
    entered, release = asyncio.Event(), asyncio.Event()
    record_boot = csms.service.record_boot

    async def slow_boot(*args):
        entered.set()
        await release.wait()
        return await record_boot(*args)

    monkeypatch.setattr(csms.service, "record_boot", slow_boot)
    api_url, ocpp_url = csms.api_url, csms.ocpp_url
    async with connect(f"{ocpp_url}/SLOW-1", subprotocols=["ocpp1.6"]) as websocket:
        await boot(websocket)
        await entered.wait()
        stopping = asyncio.create_task(csms.stop())
        await asyncio.sleep(0.3)
        assert not stopping.done()  # waiting for the answer to go out
        async with httpx.AsyncClient() as http:  # not accepting connections any more
            with pytest.raises(httpx.TransportError):
                await http.get(f"{api_url}/health")
        with pytest.raises((OSError, InvalidStatus)):
            async with connect(f"{ocpp_url}/LATE-1", subprotocols=["ocpp1.6"]):
                pass
        release.set()
        answer = json.loads(await websocket.recv())
        assert answer[:2] == [3, "1"] and answer[2]["status"] == "Accepted"
        await websocket.wait_closed()
        assert websocket.close_code == 1001
        await asyncio.wait_for(stopping, 10)


async def test_a_call_stuck_past_the_grace_does_not_hold_up_shutdown(sqlite_url, monkeypatch):
    central = CentralSystem(csms_settings(sqlite_url, auto_register=True, shutdown_grace_s=0.3))
    await central.start()
    entered = asyncio.Event()

    async def stuck_boot(*_args):
        entered.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(central.service, "record_boot", stuck_boot)
    async with connect(f"{central.ocpp_url}/STUCK-1", subprotocols=["ocpp1.6"]) as websocket:
        await boot(websocket)
        await entered.wait()
        async with asyncio.timeout(5):  # three bounded steps of 0.3 s at most, and closing
            await central.stop()
        await websocket.wait_closed()
        assert websocket.close_code == 1001


async def test_ready_is_503_once_the_ocpp_endpoint_stops_accepting(csms):
    base = csms.api_url.removesuffix("/api/v1")
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/ready")).status_code == 200
        await csms.ocpp.drain(0)
        ready = await http.get("/ready")
        assert ready.status_code == 503
        assert ready.json() == {
            "status": "not_ready",
            "checks": {"database": {"ok": True}, "ocpp": {"ok": False}},
        }
        assert (await http.get("/health")).status_code == 200  # alive all the same


async def test_with_tokens_ready_asks_the_ledger_and_metrics_show_the_outbox(csms):
    ledger = open_ledger(None, csms.clock)  # the embedded LiteSVM
    try:
        await attach_token_service(csms, ledger, ServeTokens())
        base = csms.api_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=base) as http:
            ready = await http.get("/ready")
            metrics = (await http.get("/metrics")).text
        assert ready.status_code == 200
        assert ready.json()["checks"]["ledger"] == {"ok": True, "name": ledger.name}
        assert 'evch_token_outbox_pending{kind="proof_of_charge"} 0.0' in metrics
    finally:
        await csms.stop()  # the token service first, then its ledger
        await ledger.close()
