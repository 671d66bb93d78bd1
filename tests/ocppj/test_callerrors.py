"""Malformed and invalid frames get the CALLERROR each spec names, and break nothing else."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect

from central_system.app import CentralSystem
from tests.conftest import csms_settings, seed_tokens

BOOT = {
    "ocpp1.6": ["BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
    "ocpp2.0.1": [
        "BootNotification",
        {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
    ],
}


async def exchange(ws, frame) -> list:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return json.loads(await ws.recv())


# (frame, expected code in 1.6, expected code in 2.0.1)
CASES = [
    pytest.param("{not json", "FormationViolation", "FormatViolation", id="not-json"),
    pytest.param(
        [9, "x1", "Heartbeat", {}], "NotSupported", "MessageTypeNotSupported", id="type-id"
    ),
    pytest.param([2, "x2", "Heartbeat"], "ProtocolError", "RpcFrameworkError", id="short-call"),
    pytest.param(
        [2, "x3", "Heartbeat", []], "FormationViolation", "FormatViolation", id="payload-list"
    ),
    pytest.param(
        [2, "x4", "NoSuchAction", {}], "NotImplemented", "NotImplemented", id="unknown-action"
    ),
    pytest.param(
        [2, "x5", "ClearCache", {}], "NotSupported", "NotSupported", id="action-for-charger"
    ),
]


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
@pytest.mark.parametrize(("frame", "code16", "code201"), CASES)
async def test_malformed_frames_get_the_spec_error_code(csms, subprotocol, frame, code16, code201):
    async with connect(f"{csms.ocpp_url}/CP-BAD", subprotocols=[subprotocol]) as ws:
        reply = await exchange(ws, frame)
        assert reply[0] == 4
        assert reply[2] == (code16 if subprotocol == "ocpp1.6" else code201)
        expected_id = frame[1] if isinstance(frame, list) else "-1"
        assert reply[1] == expected_id
        # The connection survives and still serves valid messages.
        answer = await exchange(ws, [2, "ok", *BOOT[subprotocol]])
        assert answer[0] == 3 and answer[2]["status"] == "Accepted"


PAYLOAD_CASES = {
    "ocpp1.6": [
        ("missing-field", ["Authorize", {}], "OccurenceConstraintViolation"),
        (
            "bad-enum",
            ["StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Bogus"}],
            "PropertyConstraintViolation",
        ),
        (
            "bad-type",
            [
                "StartTransaction",
                {
                    "connectorId": "one",
                    "idTag": "T",
                    "meterStart": 0,
                    "timestamp": "2025-01-01T00:00:00Z",
                },
            ],
            "TypeConstraintViolation",
        ),
        ("too-long", ["Authorize", {"idTag": "X" * 21}], "PropertyConstraintViolation"),
        (
            "bad-number",
            [
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {"timestamp": "2025-01-01T00:00:00Z", "sampledValue": [{"value": "abc"}]}
                    ],
                },
            ],
            "PropertyConstraintViolation",
        ),
    ],
    "ocpp2.0.1": [
        ("missing-field", ["Authorize", {}], "OccurrenceConstraintViolation"),
        (
            "bad-enum",
            [
                "StatusNotification",
                {
                    "timestamp": "2025-01-01T00:00:00Z",
                    "connectorStatus": "Bogus",
                    "evseId": 1,
                    "connectorId": 1,
                },
            ],
            "PropertyConstraintViolation",
        ),
        ("bad-type", ["Heartbeat", {"customData": 5}], "TypeConstraintViolation"),
        (
            "bad-time",
            [
                "StatusNotification",
                {
                    "timestamp": "yesterday",
                    "connectorStatus": "Available",
                    "evseId": 1,
                    "connectorId": 1,
                },
            ],
            "PropertyConstraintViolation",
        ),
    ],
}


@pytest.mark.parametrize(
    ("subprotocol", "case"),
    [(p, c) for p, cases in PAYLOAD_CASES.items() for c in cases],
    ids=lambda v: v if isinstance(v, str) else v[0],
)
async def test_invalid_payloads_get_the_spec_error_code(csms, subprotocol, case):
    _name, (action, payload), code = case
    async with connect(f"{csms.ocpp_url}/CP-PAYLOAD", subprotocols=[subprotocol]) as ws:
        reply = await exchange(ws, [2, "p1", action, payload])
        assert reply[:3] == [4, "p1", code]


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_unknown_extra_fields_are_tolerated_and_logged(csms, subprotocol, caplog):
    action, payload = BOOT[subprotocol]
    noisy = {**payload, "vendorSpecificExtra": {"a": 1}}
    async with connect(f"{csms.ocpp_url}/CP-NOISY", subprotocols=[subprotocol]) as ws:
        reply = await exchange(ws, [2, "n1", action, noisy])
    assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    assert "vendorSpecificExtra" in caplog.text


async def test_strict_mode_refuses_extra_fields(sqlite_url):
    central = CentralSystem(csms_settings(sqlite_url, auto_register=True, lenient_validation=False))
    await central.start()
    try:
        await seed_tokens(central)
        action, payload = BOOT["ocpp1.6"]
        async with connect(f"{central.ocpp_url}/CP-STRICT", subprotocols=["ocpp1.6"]) as ws:
            reply = await exchange(ws, [2, "s1", action, {**payload, "extra": 1}])
        assert reply[:3] == [4, "s1", "FormationViolation"]
    finally:
        await central.stop()


async def test_garbage_from_one_charger_does_not_disturb_another(csms, charger_factory):
    good = await charger_factory("CP-GOOD", "2.0.1")
    async with connect(f"{csms.ocpp_url}/CP-EVIL", subprotocols=["ocpp1.6"]) as ws:
        for garbage in ["", "[", "null", "[2]", "[4]"]:
            await ws.send(garbage)
            assert json.loads(await ws.recv())[:2] == [4, "-1"]
        await ws.send('[3, "nobody-asked", {}]')  # an answer to nothing: ignored
        assert await good.authorize("TAG-VALID") is True
        reply = await exchange(ws, [2, "after", *BOOT["ocpp1.6"]])
        assert reply[0] == 3
