"""Answers from real chargers: harmless extras are tolerated, real violations refused."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from central_system.errors import CommandFailed


async def _charger_answering(csms, answer: dict):
    """A hand-written 1.6 charger that answers the next CALL with `answer`."""
    ws = await connect(f"{csms.ocpp_url}/CP-HW", subprotocols=["ocpp1.6"])
    for _ in range(100):
        if csms.gateway.is_online("CP-HW"):
            break
        await asyncio.sleep(0.01)

    async def reply_once() -> None:
        call = json.loads(await ws.recv())
        await ws.send(json.dumps([3, call[1], answer]))

    return ws, asyncio.create_task(reply_once())


async def test_extra_fields_in_an_answer_are_tolerated(csms, caplog):
    ws, replier = await _charger_answering(
        csms,
        {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "60", "vendorNote": "x"}
            ],
            "firmwareHint": 1,
        },
    )
    async with ws:
        settings = await csms.gateway.link("CP-HW").get_settings(["HeartbeatInterval"])
        await replier
    assert settings == {"HeartbeatInterval": "60"}
    assert "firmwareHint" in caplog.text and "vendorNote" in caplog.text


async def test_an_invalid_answer_fails_the_command(csms):
    ws, replier = await _charger_answering(csms, {"status": "Maybe"})
    async with ws:
        with pytest.raises(CommandFailed) as failed:
            await csms.gateway.link("CP-HW").reset(hard=False)
        await replier
    assert failed.value.details["error_code"] == "PropertyConstraintViolation"
