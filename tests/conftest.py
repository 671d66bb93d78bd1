"""Shared fixtures: a real central system (SQLite or PostgreSQL), emulated chargers and a local
Solana validator with EVCH deployed.

PostgreSQL tests need the server on 127.0.0.1:5432 (EVCH_TEST_POSTGRES_URL overrides). In CI
(CI=true) a missing server fails the run; elsewhere those tests skip and say why.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from central_system.app import CentralSystem
from central_system.config import Settings
from central_system.domain.model import IdToken, IdTokenStatus
from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger
from evch.localnet import LocalEvch, evch_deployed, evch_validator

POSTGRES_ADMIN_URL = os.environ.get(
    "EVCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
VALID_TOKEN = "TAG-VALID"
SECOND_TOKEN = "TAG-SECOND"
BLOCKED_TOKEN = "TAG-BLOCKED"


def _postgres_database() -> tuple[str, Callable[[], None]]:
    """A fresh, empty PostgreSQL database and the function that drops it."""
    name = f"evch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is unreachable: {error}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'evch.db'}"
    url, drop = _postgres_database()
    request.addfinalizer(drop)
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'evch.db'}"


def csms_settings(database_url: str, **overrides) -> Settings:
    """Settings of a test central system. Its REST API runs with `api_auth="off"` (a call
    without a key acts as the operator), as the tests of each feature call it; authentication
    as `evch serve` requires it is tested in test_api_roles.py."""
    defaults = {"database_url": database_url, "ocpp_port": 0, "api_port": 0, "api_auth": "off"}
    return Settings(**(defaults | overrides))


async def seed_tokens(csms: CentralSystem) -> None:
    await csms.service.upsert_id_token(IdToken(VALID_TOKEN, "ISO14443", IdTokenStatus.ACTIVE))
    await csms.service.upsert_id_token(IdToken(SECOND_TOKEN, "ISO14443", IdTokenStatus.ACTIVE))
    await csms.service.upsert_id_token(IdToken(BLOCKED_TOKEN, "ISO14443", IdTokenStatus.BLOCKED))


@pytest.fixture
async def csms(sqlite_url) -> AsyncIterator[CentralSystem]:
    """A running central system on SQLite with auto-registration and two known tokens."""
    central = CentralSystem(csms_settings(sqlite_url, auto_register=True))
    await central.start()
    await seed_tokens(central)
    yield central
    await central.stop()


@pytest.fixture
async def charger_factory(csms) -> AsyncIterator[Callable[..., EmulatedCharger]]:
    """Creates powered-on emulated chargers connected to `csms`; powers them off afterwards."""
    created: list[EmulatedCharger] = []

    async def make(charger_id: str, version: str = "1.6", clock=None, **config) -> EmulatedCharger:
        charger = emulated_charger(
            ChargerConfig(charger_id, csms.ocpp_url, ocpp_version=version, **config), clock
        )
        created.append(charger)
        await charger.power_on()
        await charger.wait_online()
        return charger

    yield make
    for charger in created:
        await charger.power_off()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def solana_test_validator(ledger_dir: Path, timeout_s: float = 60) -> AsyncIterator[str]:
    """The real `solana-test-validator` on a fresh ledger (its faucet on a free port too, so
    that several can run at once), once getHealth says "ok"; yields its JSON-RPC URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *("solana-test-validator", "--ledger", str(ledger_dir), "--rpc-port", str(port)),
        *("--faucet-port", str(free_port()), "--quiet", "--reset"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    health = {"jsonrpc": "2.0", "id": 1, "method": "getHealth"}
    try:
        async with httpx.AsyncClient(timeout=5) as http, asyncio.timeout(timeout_s):
            while process.returncode is None:
                try:
                    if (await http.post(url, json=health)).json().get("result") == "ok":
                        break
                except (httpx.HTTPError, ValueError):
                    pass  # not listening yet
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"solana-test-validator exited ({process.returncode})")
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture
async def local_validator(tmp_path) -> AsyncIterator[LocalEvch]:
    """A JSON-RPC ledger with the programs deployed and the mints created (fresh keys): the
    real `solana-test-validator` when it is on PATH, `evch validator` in this process
    otherwise; `.kind` says which."""
    if shutil.which("solana-test-validator") is None:
        async with evch_validator() as local:
            yield local
    else:
        async with solana_test_validator(tmp_path / "test-ledger") as url:
            async with evch_deployed(url, "solana-test-validator") as local:
                yield local


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory) -> Path:
    """The quickstart scenario's run directory, made once per test session by `evch run` (about
    8 s). Shared: tests read it and never change it (copy it to doctor it)."""
    out_dir = tmp_path_factory.mktemp("runs") / "quickstart"
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.toml"
    subprocess.run(
        [shutil.which("evch") or "evch", "run", str(scenario), "--out", str(out_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out_dir
