"""REST API authentication: API keys with a role on every route (central_system/api/auth.py),
against a running central system with `api_auth = required`, as `evch serve` runs it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from central_system.access import KEY_PREFIX, Role, key_hash, new_api_key
from central_system.app import CentralSystem
from central_system.store import api_keys as key_store
from evch.cli import app as evch_app
from tests.conftest import VALID_TOKEN, csms_settings, seed_tokens

ADMIN_TOKEN = "roles-test-admin-token"
ADMIN_, OPERATOR, ANALYST, REGULATOR = Role.ADMIN, Role.OPERATOR, Role.ANALYST, Role.REGULATOR
EVERYONE = {ADMIN_, OPERATOR, ANALYST, REGULATOR}
OPERATE, AUDIT, ADMIN = {ADMIN_, OPERATOR}, {ADMIN_, ANALYST, REGULATOR}, {ADMIN_}
WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
REASON = {"reason": "role test"}

OPEN = {"/health", "/ready", "/metrics"}  # probes for load balancers and Prometheus
# Every other route of /api/v1: (method, OpenAPI path, a concrete path, body, roles).
# A route added to the API without a line here fails test_every_route_is_in_the_matrix.
MATRIX = [
    ("GET", "/chargers", "/chargers", None, EVERYONE),
    ("POST", "/chargers", "/chargers", {"charger_id": "CP-ROLES-NEW"}, OPERATE),
    ("GET", "/chargers/{charger_id}", "/chargers/CP-ROLES", None, EVERYONE),
    ("GET", "/chargers/{charger_id}/meters", "/chargers/CP-ROLES/meters", None, EVERYONE),
    (
        "PUT",
        "/chargers/{charger_id}/meters/{evse_id}",
        "/chargers/CP-ROLES/meters/1",
        {"meter_serial": "M-1", "public_key": "not a key"},
        ADMIN,
    ),
    (
        "POST",
        "/chargers/{charger_id}/remote-start",
        "/chargers/CP-ROLES/remote-start",
        {"id_token": VALID_TOKEN},
        OPERATE,
    ),
    ("GET", "/sessions", "/sessions", None, EVERYONE),
    ("GET", "/sessions/{session_id}", "/sessions/999", None, EVERYONE),
    (
        "PUT",
        "/sessions/{session_id}/needs",
        "/sessions/999/needs",
        {"departure_at": "2026-01-01T18:00:00Z", "energy_wh": 10_000},
        OPERATE,
    ),
    ("POST", "/sessions/{session_id}/remote-stop", "/sessions/999/remote-stop", None, OPERATE),
    ("GET", "/id-tokens", "/id-tokens", None, OPERATE),
    ("PUT", "/id-tokens/{id_token}", "/id-tokens/TAG-ROLES", {"id_token": "TAG-ROLES"}, OPERATE),
    ("GET", "/sites", "/sites", None, EVERYONE),
    ("PUT", "/sites/{site_id}", "/sites/S-ROLES", {"policy": "no-such-policy"}, ADMIN),
    ("PUT", "/sites/{site_id}/policy", "/sites/NOWHERE/policy", {"policy": "equal"}, OPERATE),
    ("GET", "/sites/{site_id}/prices", "/sites/NOWHERE/prices", WINDOW, EVERYONE),
    ("GET", "/token/wallets/{owner_ref}", f"/token/wallets/{VALID_TOKEN}", None, EVERYONE),
    (
        "GET",
        "/token/wallets/{owner_ref}/transactions",
        f"/token/wallets/{VALID_TOKEN}/transactions",
        None,
        EVERYONE,
    ),
    (
        "POST",
        "/token/wallets/{owner_ref}/stake",
        f"/token/wallets/{VALID_TOKEN}/stake",
        {"amount_raw": 1, "lock_s": 60},
        OPERATE,
    ),
    (
        "POST",
        "/token/wallets/{owner_ref}/unstake",
        f"/token/wallets/{VALID_TOKEN}/unstake",
        {"nonce": 0},
        OPERATE,
    ),
    (
        "POST",
        "/token/wallets/{owner_ref}/redeem",
        f"/token/wallets/{VALID_TOKEN}/redeem",
        {"amount_raw": 1, "service": "parking"},
        OPERATE,
    ),
    (
        "POST",
        "/token/wallets/{owner_ref}/pay",
        f"/token/wallets/{VALID_TOKEN}/pay",
        {"session_id": 999},
        OPERATE,
    ),
    ("GET", "/token/sessions/{session_id}/quote", "/token/sessions/999/quote", None, EVERYONE),
    ("GET", "/token/admin/settlements", "/token/admin/settlements", None, AUDIT),
    ("GET", "/token/admin/supply", "/token/admin/supply", None, AUDIT),
    (
        "POST",
        "/token/admin/clawback",
        "/token/admin/clawback",
        {"owner_ref": VALID_TOKEN, "amount_raw": 1} | REASON,
        ADMIN,
    ),
    ("GET", "/token/admin/config", "/token/admin/config", None, AUDIT),
    ("PUT", "/token/admin/rates", "/token/admin/rates", REASON, ADMIN),
    ("POST", "/token/admin/pause", "/token/admin/pause", REASON, ADMIN),
    ("POST", "/token/admin/resume", "/token/admin/resume", REASON, ADMIN),
    (
        "POST",
        "/token/admin/burn",
        "/token/admin/burn",
        {"owner_ref": VALID_TOKEN, "amount_raw": 1} | REASON,
        ADMIN,
    ),
    ("GET", "/token/admin/fees", "/token/admin/fees", None, AUDIT),
    ("POST", "/token/admin/fees/withdraw", "/token/admin/fees/withdraw", REASON, ADMIN),
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def call(api: httpx.AsyncClient, method: str, path: str, body, headers: dict):
    if method == "GET":
        return await api.get(path, params=body, headers=headers)
    return await api.request(method, path, json=body, headers=headers)


@asynccontextmanager
async def running(settings) -> AsyncIterator[tuple[CentralSystem, httpx.AsyncClient]]:
    """The central system started with `settings`, and a client of its REST API."""
    central = CentralSystem(settings)
    await central.start()
    try:
        async with httpx.AsyncClient(base_url=central.api_url, timeout=10) as api:
            yield central, api
    finally:
        await central.stop()


async def add_key(central: CentralSystem, name: str, role: Role) -> str:
    """A new API key with `role`, stored hashed as `evch db add-api-key` stores it."""
    key = new_api_key()
    await central.db.write(key_store.add_api_key, name, role, key_hash(key), central.clock.now())
    return key


def evch(*args: str) -> tuple[int, str, str]:
    """`evch ARGS` in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(evch_app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
async def secured(sqlite_url):
    """A central system whose API requires a key (no token service: the token routes answer
    503 to whoever gets past authentication), with one key per role."""
    settings = csms_settings(
        sqlite_url, auto_register=True, api_auth="required", admin_token=ADMIN_TOKEN
    )
    async with running(settings) as (central, api):
        await seed_tokens(central)
        await central.service.register_charger("CP-ROLES")
        keys = {role: await add_key(central, f"{role}-key", role) for role in Role}
        yield central, api, keys


async def test_the_role_matrix(secured):
    _, api, keys = secured
    wrong = []
    for method, _, path, body, allowed in MATRIX:
        for role, key in keys.items():
            answer = await call(api, method, path, body, bearer(key))
            expected = "allowed" if role in allowed else 403
            got = "allowed" if answer.status_code not in (401, 403) else answer.status_code
            if got != expected:
                wrong.append((method, path, role.value, answer.status_code, answer.text))
            if got == 403:
                assert answer.json()["error"] == "forbidden"
                assert answer.json()["details"]["role"] == role.value
        admin_token = await call(api, method, path, body, bearer(ADMIN_TOKEN))
        if admin_token.status_code in (401, 403):
            wrong.append((method, path, "admin token", admin_token.status_code, admin_token.text))
        for headers in ({}, bearer("evch_unknown"), {"Authorization": f"Basic {keys[ADMIN_]}"}):
            refused = await call(api, method, path, body, headers)
            if refused.status_code != 401 or refused.headers["www-authenticate"] != "Bearer":
                wrong.append((method, path, headers, refused.status_code, refused.text))
    assert not wrong, "\n".join(map(str, wrong))


async def test_allowed_roles_get_the_data(secured):
    _, api, keys = secured
    operator = bearer(keys[OPERATOR])
    created = await api.post("/chargers", json={"charger_id": "CP-OP"}, headers=operator)
    assert created.status_code == 201
    assert (await api.get("/id-tokens", headers=operator)).status_code == 200
    for role in (ANALYST, REGULATOR):
        chargers = await api.get("/chargers", headers=bearer(keys[role]))
        assert {"CP-ROLES", "CP-OP"} <= {c["charger_id"] for c in chargers.json()}
        assert (await api.get("/chargers/CP-OP/meters", headers=bearer(keys[role]))).json() == []
        assert (await api.get("/sessions", headers=bearer(keys[role]))).json() == []
        denied = await api.get("/id-tokens", headers=bearer(keys[role]))  # drivers' credentials
        assert denied.status_code == 403 and denied.json()["details"]["allowed"] == [
            "admin",
            "operator",
        ]
    # Behind the role check the routes work as before: the token service is not running here.
    supply = await api.get("/token/admin/supply", headers=bearer(keys[ANALYST]))
    assert supply.status_code == 503 and supply.json()["error"] == "unavailable"


async def test_every_route_is_in_the_matrix_and_the_openapi_shows_the_scheme(secured):
    _, api, _ = secured
    spec = (await api.get("/openapi.json")).json()  # no key needed for the documentation
    assert (await api.get("/docs")).status_code == 200
    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    operations = {
        (method.upper(), path.removeprefix("/api/v1")): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }
    for path in OPEN:
        if ("GET", path) in operations:
            assert "security" not in operations.pop(("GET", path))
            assert (await api.get(path)).status_code != 401
    assert set(operations) == {(method, path) for method, path, *_ in MATRIX}
    for where, operation in operations.items():
        assert operation["security"] == [{"apiKey": []}], where
        assert {"401", "403"} <= set(operation["responses"]), where


async def test_keys_made_and_revoked_with_the_cli_are_stored_hashed(
    sqlite_url, tmp_path: Path, caplog
):
    caplog.set_level(logging.DEBUG)
    code, key, said = evch("db", "add-api-key", "auditor", "--role", "regulator", *db(sqlite_url))
    assert code == 0 and "shown once" in said
    key = key.strip()
    assert key.startswith(KEY_PREFIX) and len(key) == len(KEY_PREFIX) + 43
    duplicate = evch("db", "add-api-key", "auditor", "--role", "admin", *db(sqlite_url))
    assert duplicate[0] == 1 and "exists already" in duplicate[2]
    assert evch("db", "add-api-key", "bad name!", "--role", "admin", *db(sqlite_url))[0] == 2
    assert evch("db", "add-api-key", "x", "--role", "root", *db(sqlite_url))[0] == 2

    async with running(csms_settings(sqlite_url, api_auth="required")) as (_, api):
        assert (await api.get("/sessions", headers=bearer(key))).status_code == 200
        refused = await api.post("/chargers", json={"charger_id": "X"}, headers=bearer(key))
        assert refused.status_code == 403
        assert (await api.get("/sessions", headers=bearer(key[:-1]))).status_code == 401

        code, listed, _ = evch("db", "list-api-keys", *db(sqlite_url))
        assert code == 0 and "auditor" in listed and "regulator" in listed and key not in listed
        assert evch("db", "revoke-api-key", "auditor", *db(sqlite_url))[0] == 0
        revoked = await api.get("/sessions", headers=bearer(key))  # at once, no restart
        assert revoked.status_code == 401 and revoked.json()["error"] == "unauthenticated"
        assert evch("db", "revoke-api-key", "nobody", *db(sqlite_url))[0] == 1

    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        (row,) = connection.execute(text("SELECT * FROM api_keys")).mappings()
    engine.dispose()
    assert row["name"] == "auditor" and row["role"] == "regulator"
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["revoked_at"] is not None
    for file in tmp_path.glob("evch.db*"):  # the database and its WAL: no key in clear
        assert key.encode() not in file.read_bytes(), file
    assert key not in caplog.text  # never logged


async def test_without_api_auth_a_call_without_a_key_acts_as_the_operator(sqlite_url):
    settings = csms_settings(sqlite_url, api_auth="off", admin_token=ADMIN_TOKEN)
    async with running(settings) as (central, api):
        analyst = await add_key(central, "analyst", Role.ANALYST)
        assert (await api.get("/sessions")).status_code == 200
        assert (await api.post("/chargers", json={"charger_id": "CP-DEV"})).status_code == 201
        for path in ("/token/admin/supply", "/token/admin/config"):  # not the operator's
            refused = await api.get(path)
            assert refused.status_code == 401 and refused.headers["www-authenticate"]
        assert (await api.get("/sessions", headers=bearer("evch_guess"))).status_code == 401
        denied = await api.post("/chargers", json={"charger_id": "C"}, headers=bearer(analyst))
        assert denied.status_code == 403  # a key that is sent counts
        admin = await api.get("/token/admin/supply", headers=bearer(ADMIN_TOKEN))
        assert admin.status_code == 503  # authenticated; no token service here


def test_the_default_is_required():
    from central_system.config import ApiAuth, Settings

    assert Settings().api_auth is ApiAuth.REQUIRED
    assert Settings(api_auth="off").api_auth is ApiAuth.OFF


def test_keys_are_random_and_only_their_hash_is_kept():
    keys = {new_api_key() for _ in range(100)}
    assert len(keys) == 100
    key = keys.pop()
    assert key_hash(key) == hashlib.sha256(key.encode()).hexdigest() and key not in key_hash(key)


def db(url: str) -> tuple[str, str]:
    return ("--database-url", url)
