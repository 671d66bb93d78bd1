"""The REST API under /api/v1, against a running central system and emulated chargers."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import VALID_TOKEN


@pytest.fixture
async def api(csms):
    async with httpx.AsyncClient(base_url=csms.api_url, timeout=10) as client:
        yield client


async def test_openapi_is_served(api):
    spec = (await api.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/chargers",
        "/api/v1/sessions",
        "/api/v1/chargers/{charger_id}/remote-start",
        "/api/v1/sessions/{session_id}/remote-stop",
    ):
        assert path in spec["paths"]


async def test_register_and_list_chargers(api, charger_factory):
    created = await api.post("/chargers", json={"charger_id": "CP-API-NEW", "ocpp_version": "1.6"})
    assert created.status_code == 201
    await charger_factory("CP-API-ONLINE", "2.0.1")
    chargers = {c["charger_id"]: c for c in (await api.get("/chargers")).json()}
    assert chargers["CP-API-NEW"]["online"] is False
    online = chargers["CP-API-ONLINE"]
    assert online["online"] is True and online["ocpp_version"] == "2.0.1"
    assert online["connectors"][0]["status"] == "Available"
    assert (await api.get("/chargers/CP-NOPE")).status_code == 404
    assert (await api.post("/chargers", json={"charger_id": "bad id!"})).status_code == 422


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_remote_start_and_stop(api, charger_factory, version):
    charger = await charger_factory(f"CP-REMOTE-{version}", version)
    started = await api.post(
        f"/chargers/{charger.id}/remote-start", json={"id_token": VALID_TOKEN, "evse_id": 1}
    )
    assert started.status_code == 200 and started.json() == {"status": "Accepted"}
    await charger.settle()
    assert charger.evse(1).transaction is not None

    (session,) = (await api.get("/sessions", params={"charger_id": charger.id})).json()
    assert session["state"] == "Active"
    busy = await api.post(
        f"/chargers/{charger.id}/remote-start", json={"id_token": "TAG-SECOND", "evse_id": 1}
    )
    assert busy.status_code == 409

    stopped = await api.post(f"/sessions/{session['session_id']}/remote-stop")
    assert stopped.json() == {"status": "Accepted"}
    await charger.settle()
    detail = (await api.get(f"/sessions/{session['session_id']}")).json()
    assert detail["state"] == "Completed" and detail["stop_reason"] == "Remote"
    assert detail["readings"][-1]["context"] == "Transaction.End"
    again = await api.post(f"/sessions/{session['session_id']}/remote-stop")
    assert again.status_code == 409


async def test_remote_start_refusals(api, csms, charger_factory):
    await charger_factory("CP-REFUSE", "1.6")
    unknown_token = await api.post("/chargers/CP-REFUSE/remote-start", json={"id_token": "NOBODY"})
    assert (
        unknown_token.status_code == 409 and unknown_token.json()["details"]["status"] == "Invalid"
    )
    await csms.service.register_charger("CP-OFFLINE")
    offline = await api.post("/chargers/CP-OFFLINE/remote-start", json={"id_token": VALID_TOKEN})
    assert offline.status_code == 503 and offline.json()["error"] == "charger_offline"
    assert (
        await api.post("/chargers/CP-GHOST/remote-start", json={"id_token": VALID_TOKEN})
    ).status_code == 404
    assert (await api.post("/sessions/999/remote-stop")).status_code == 404


async def test_id_tokens(api):
    put = await api.put("/id-tokens/NEW-TAG", json={"id_token": "NEW-TAG", "status": "Blocked"})
    assert put.status_code == 200
    tokens = {t["id_token"]: t["status"] for t in (await api.get("/id-tokens")).json()}
    assert tokens["NEW-TAG"] == "Blocked" and tokens[VALID_TOKEN] == "Active"
