"""Who may connect, and in which protocol version."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from central_system.app import CentralSystem
from tests.conftest import csms_settings


@pytest.fixture
async def closed_csms(sqlite_url):
    """A central system that accepts only registered chargers."""
    central = CentralSystem(csms_settings(sqlite_url, auto_register=False))
    await central.start()
    await central.service.register_charger("CP-KNOWN")
    yield central
    await central.stop()


async def test_unknown_charger_is_refused_at_the_handshake(closed_csms):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{closed_csms.ocpp_url}/CP-STRANGER", subprotocols=["ocpp1.6"]):
            pass
    assert refused.value.response.status_code == 404
    assert await closed_csms.service.get_charger("CP-STRANGER") is None


async def test_registered_charger_is_admitted(closed_csms):
    async with connect(f"{closed_csms.ocpp_url}/CP-KNOWN", subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_auto_registration_admits_and_registers(csms):
    async with connect(f"{csms.ocpp_url}/CP-NEW", subprotocols=["ocpp2.0.1"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
    assert await csms.service.get_charger("CP-NEW") is not None


async def test_prefers_201_when_both_are_offered(csms):
    async with connect(f"{csms.ocpp_url}/CP-BOTH", subprotocols=["ocpp1.6", "ocpp2.0.1"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"


@pytest.mark.parametrize("offered", [None, ["ocpp1.5"]])
async def test_missing_or_unsupported_subprotocol_is_refused(csms, offered):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{csms.ocpp_url}/CP-X", subprotocols=offered):
            pass
    assert refused.value.response.status_code == 400


async def test_wrong_path_is_refused(csms):
    url = csms.ocpp_url.removesuffix("/ocpp") + "/chargers/CP-1"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=["ocpp1.6"]):
            pass
    assert refused.value.response.status_code == 404
