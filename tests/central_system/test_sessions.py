"""The rules of a session, the same for both protocol versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from websockets.asyncio.client import connect

from central_system.domain.model import AuthorizationStatus, ConnectorStatus, SessionState
from chargers_sim.base import ChargerStateError
from tests.clock import ManualClock
from tests.conftest import BLOCKED_TOKEN, VALID_TOKEN

VERSIONS = ["1.6", "2.0.1"]


async def only_session(csms, charger_id):
    sessions = await csms.service.list_sessions(charger_id)
    assert len(sessions) == 1, sessions
    return await csms.service.get_session(sessions[0].session_id)


@pytest.mark.parametrize("version", VERSIONS)
async def test_full_session_is_metered_and_stored(csms, charger_factory, version):
    clock = ManualClock()
    charger = await charger_factory(f"CP-FULL-{version}", version, clock, meter_interval_s=60)
    await charger.plug_in(1)
    assert await charger.authorize(VALID_TOKEN)
    await charger.start_transaction(1, VALID_TOKEN)
    charger.set_power(1, 18_000)  # 5 Wh per second
    await clock.advance(90)  # one periodic meter value at 60 s
    await charger.settle()
    await charger.stop_transaction(1, "Local")
    await charger.unplug(1)
    await charger.settle()

    session = await only_session(csms, charger.id)
    assert session.state is SessionState.COMPLETED
    assert session.meter_start_wh == 0
    assert session.energy_wh == 450  # 90 s at 18 kW
    assert session.energy_wh == charger.evse(1).meter.register_wh()
    energy = [r for r in session.readings if r.measurand == "Energy.Active.Import.Register"]
    assert [r.value for r in energy if r.context == "Sample.Periodic"] == [300.0]
    assert any(r.context == "Transaction.End" for r in energy)
    assert session.stopped_at > session.started_at
    connector = (await csms.service.get_charger(charger.id)).connector(1)
    assert connector.status is ConnectorStatus.AVAILABLE


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_and_blocked_tokens_are_refused(csms, charger_factory, version):
    charger = await charger_factory(f"CP-AUTH-{version}", version)
    assert await charger.authorize("NOBODY") is False
    assert await charger.authorize(BLOCKED_TOKEN) is False
    assert await csms.service.authorize("NOBODY") is AuthorizationStatus.INVALID
    assert await csms.service.authorize(BLOCKED_TOKEN) is AuthorizationStatus.BLOCKED


@pytest.mark.parametrize("version", VERSIONS)
async def test_transaction_with_unknown_token_is_rejected_and_stopped(
    csms, charger_factory, version
):
    charger = await charger_factory(f"CP-REJ-{version}", version)
    await charger.plug_in(1)
    await charger.start_transaction(1, "NOBODY")
    await charger.settle()
    # The charger ends a transaction the central system deauthorised.
    assert charger.evse(1).transaction is None
    session = await only_session(csms, charger.id)
    assert session.state is SessionState.REJECTED
    assert session.authorization is AuthorizationStatus.INVALID


UNAVAILABLE_THEN_START = {
    "ocpp1.6": [
        ["StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Unavailable"}],
        [
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": VALID_TOKEN,
                "meterStart": 0,
                "timestamp": "2025-01-01T00:00:00Z",
            },
        ],
    ],
    "ocpp2.0.1": [
        [
            "StatusNotification",
            {
                "timestamp": "2025-01-01T00:00:00Z",
                "connectorStatus": "Unavailable",
                "evseId": 1,
                "connectorId": 1,
            },
        ],
        [
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": "2025-01-01T00:00:00Z",
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": "tx-1"},
                "idToken": {"idToken": VALID_TOKEN, "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1},
            },
        ],
    ],
}


@pytest.mark.parametrize("subprotocol", list(UNAVAILABLE_THEN_START))
async def test_session_cannot_start_on_an_unavailable_connector(csms, subprotocol):
    async with connect(f"{csms.ocpp_url}/CP-UNAV", subprotocols=[subprotocol]) as ws:
        for n, (action, payload) in enumerate(UNAVAILABLE_THEN_START[subprotocol]):
            await ws.send(json.dumps([2, str(n), action, payload]))
            reply = json.loads(await ws.recv())
    info = reply[2].get("idTagInfo") or reply[2].get("idTokenInfo")
    assert info["status"] == "Invalid"
    session = await only_session(csms, "CP-UNAV")
    assert session.state is SessionState.REJECTED


async def test_one_token_cannot_charge_twice_at_once(csms, charger_factory):
    first = await charger_factory("CP-TWICE-A", "1.6")
    second = await charger_factory("CP-TWICE-B", "2.0.1")
    for charger in (first, second):
        await charger.plug_in(1)
        await charger.start_transaction(1, VALID_TOKEN)
        await charger.settle()
    assert (await only_session(csms, "CP-TWICE-A")).state is SessionState.ACTIVE
    second_session = await only_session(csms, "CP-TWICE-B")
    assert second_session.authorization is AuthorizationStatus.CONCURRENT_TX


async def test_charger_refuses_impossible_actions(charger_factory):
    charger = await charger_factory("CP-STATE", "1.6")
    with pytest.raises(ChargerStateError):
        await charger.start_transaction(1, VALID_TOKEN)  # no cable
    with pytest.raises(ChargerStateError):
        charger.set_power(1, 1000)  # no transaction


async def test_charger_timestamps_are_kept_as_sent(csms, charger_factory):
    clock = ManualClock(datetime(2019, 5, 1, 8, 30, tzinfo=UTC))
    charger = await charger_factory("CP-TIME", "2.0.1", clock)
    await charger.plug_in(1)
    await charger.start_transaction(1, VALID_TOKEN)
    await charger.settle()
    session = await only_session(csms, charger.id)
    assert session.started_at.isoformat() == "2019-05-01T08:30:00+00:00"


async def test_signed_readings_are_kept_and_do_not_break_the_stop(csms):
    async with connect(f"{csms.ocpp_url}/CP-SIGNED", subprotocols=["ocpp1.6"]) as ws:
        start = {
            "connectorId": 1,
            "idTag": VALID_TOKEN,
            "meterStart": 100,
            "timestamp": "2025-01-01T00:00:00Z",
        }
        await ws.send(json.dumps([2, "1", "StartTransaction", start]))
        tx = json.loads(await ws.recv())[2]["transactionId"]
        stop = {
            "transactionId": tx,
            "meterStop": 2100,
            "timestamp": "2025-01-01T01:00:00Z",
            "transactionData": [
                {
                    "timestamp": "2025-01-01T01:00:00Z",
                    "sampledValue": [
                        {
                            "value": "OCMF|{...}|{...}",
                            "format": "SignedData",
                            "context": "Transaction.End",
                        }
                    ],
                }
            ],
        }
        await ws.send(json.dumps([2, "2", "StopTransaction", stop]))
        assert json.loads(await ws.recv())[0] == 3
    session = await only_session(csms, "CP-SIGNED")
    assert session.energy_wh == 2000
    (signed,) = session.readings
    assert signed.value is None and signed.signed_data == "OCMF|{...}|{...}"


async def test_a_new_start_closes_a_session_whose_stop_was_lost(csms):
    async with connect(f"{csms.ocpp_url}/CP-LOST", subprotocols=["ocpp1.6"]) as ws:
        for n, (token, at) in enumerate([(VALID_TOKEN, "00:00"), ("TAG-SECOND", "02:00")]):
            start = {
                "connectorId": 1,
                "idTag": token,
                "meterStart": 0,
                "timestamp": f"2025-01-01T{at}:00Z",
            }
            await ws.send(json.dumps([2, str(n), "StartTransaction", start]))
            assert json.loads(await ws.recv())[2]["idTagInfo"]["status"] == "Accepted"
    first, second = await csms.service.list_sessions("CP-LOST")
    assert (first.state, first.stop_reason) == (SessionState.COMPLETED, "Superseded")
    assert first.stopped_at == second.started_at
    assert second.state is SessionState.ACTIVE


async def test_a_token_presented_after_the_start_is_checked(csms):
    def event(kind, seq, **extra):
        body = {
            "eventType": kind,
            "timestamp": "2025-01-01T00:00:00Z",
            "seqNo": seq,
            "triggerReason": "CablePluggedIn",
            "transactionInfo": {"transactionId": "tx-9"},
            "evse": {"id": 1, "connectorId": 1},
            **extra,
        }
        return [2, str(seq), "TransactionEvent", body]

    async with connect(f"{csms.ocpp_url}/CP-LATE-TOKEN", subprotocols=["ocpp2.0.1"]) as ws:
        await ws.send(json.dumps(event("Started", 0)))
        assert json.loads(await ws.recv())[2] == {}
        token = {"idToken": BLOCKED_TOKEN, "type": "ISO14443"}
        await ws.send(json.dumps(event("Updated", 1, idToken=token)))
        assert json.loads(await ws.recv())[2]["idTokenInfo"]["status"] == "Blocked"
    session = await only_session(csms, "CP-LATE-TOKEN")
    assert session.state is SessionState.REJECTED
    assert session.authorization is AuthorizationStatus.BLOCKED
