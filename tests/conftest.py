"""Shared fixtures: a real central system (SQLite or PostgreSQL) and emulated chargers.

PostgreSQL tests need the server on 127.0.0.1:5432 (EVCH_TEST_POSTGRES_URL overrides). In CI
(CI=true) a missing server fails the run; elsewhere those tests skip and say why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import create_engine, text

from central_system.app import CentralSystem
from central_system.config import Settings
from central_system.domain.model import IdToken, IdTokenStatus
from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger

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
    return Settings(**({"database_url": database_url, "ocpp_port": 0, "api_port": 0} | overrides))


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
