"""Persistence on SQLite and PostgreSQL: migrations, and a restart that loses nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import create_engine, inspect

from central_system.app import CentralSystem
from central_system.domain.model import ConnectorStatus, SessionState
from central_system.store import migrate
from chargers_sim import ChargerConfig, emulated_charger
from tests.clock import ManualClock
from tests.conftest import SECOND_TOKEN, VALID_TOKEN, csms_settings, seed_tokens


def test_migrations_create_the_schema(database_url):
    migrate(database_url)
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "chargers",
        "connectors",
        "id_tokens",
        "charging_sessions",
        "meter_readings",
        "alembic_version",
    } <= tables


async def test_restart_loses_nothing_and_the_charger_resumes(database_url):
    """Open sessions, readings and connector states survive; the charger finishes its session."""
    clock = ManualClock()
    sessions = {}
    first = CentralSystem(csms_settings(database_url, auto_register=True))
    await first.start()
    await seed_tokens(first)
    port = first.ocpp.port
    chargers = {
        version: emulated_charger(
            ChargerConfig(
                f"CP-RESTART-{version}",
                first.ocpp_url,
                ocpp_version=version,
                reconnect_initial_s=0.05,
                reconnect_max_s=0.2,
            ),
            clock,
        )
        for version in ("1.6", "2.0.1")
    }
    for charger, token in zip(chargers.values(), (VALID_TOKEN, SECOND_TOKEN), strict=True):
        await charger.power_on()
        await charger.wait_online()
        await charger.plug_in(1)
        await charger.start_transaction(1, token)
        charger.set_power(1, 7_200)
    await clock.advance(600)  # 1,200 Wh each, one periodic reading per minute
    for charger in chargers.values():
        charger.set_power(1, 0)  # the EV is full: no energy while we wait for the reconnect
        await charger.settle()
        (listed,) = await first.service.list_sessions(charger.id)
        sessions[charger.id] = await first.service.get_session(listed.session_id)

    await first.stop()  # the central system goes away mid-session
    for charger in chargers.values():
        assert not charger.online or await _wait_offline(charger)

    second = CentralSystem(csms_settings(database_url, auto_register=False, ocpp_port=port))
    await second.start()
    try:
        for charger in chargers.values():
            stored = await second.service.get_session(sessions[charger.id].session_id)
            assert stored.state is SessionState.ACTIVE
            assert stored.readings == sessions[charger.id].readings
            assert len(stored.readings) >= 10
            connector = (await second.service.get_charger(charger.id)).connector(1)
            assert connector.status is ConnectorStatus.OCCUPIED

            # The charger reconnects on its own (registered by then, auto-registration off).
            await _wait_online(charger)
            await charger.stop_transaction(1, "Local")
            await charger.settle()
            done = await second.service.get_session(stored.session_id)
            assert done.state is SessionState.COMPLETED
            assert done.energy_wh == 1_200
            periodic = [
                r.value
                for r in done.readings
                if r.context == "Sample.Periodic" and r.measurand == "Energy.Active.Import.Register"
            ]
            assert periodic == [120.0 * minute for minute in range(1, 11)]
    finally:
        for charger in chargers.values():
            await charger.power_off()
        await second.stop()


async def _wait_offline(charger) -> bool:
    for _ in range(200):
        if not charger.online:
            return True
        await asyncio.sleep(0.01)
    return False


async def _wait_online(charger) -> None:
    for _ in range(100):
        # Reconnect backoff sleeps on the charger's manual clock: nudge it.
        await charger.clock.advance(1)
        if charger.online:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{charger.id} did not reconnect")
