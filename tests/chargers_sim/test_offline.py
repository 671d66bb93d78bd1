"""Offline: transaction messages queue while the connection is down, then arrive in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from central_system.domain.model import SessionState
from chargers_sim.meter import EnergyMeter
from tests.clock import ManualClock
from tests.conftest import VALID_TOKEN


async def _reconnect(charger, clock: ManualClock) -> None:
    charger.go_online()
    for _ in range(200):
        if charger.online:
            return
        await clock.advance(1)  # the reconnect backoff sleeps on the charger's clock
        await asyncio.sleep(0.01)
    raise AssertionError("no reconnect")


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_session_started_offline_is_delivered_in_order(csms, charger_factory, version):
    clock = ManualClock()
    charger = await charger_factory(
        f"CP-OFF-{version}", version, clock, meter_interval_s=60, reconnect_initial_s=1
    )
    assert await charger.authorize(VALID_TOKEN)  # cached for offline authorisation
    await charger.go_offline()
    assert not charger.online

    started_at = clock.now()
    await charger.plug_in(1)
    assert await charger.authorize(VALID_TOKEN)  # LocalAuthorizeOffline
    await charger.start_transaction(1, VALID_TOKEN)
    charger.set_power(1, 6_000)
    await clock.advance(150)  # two periodic samples, queued
    await charger.stop_transaction(1, "Local")
    stopped_at = clock.now()
    assert await csms.service.list_sessions(charger.id) == []  # nothing got through yet

    await _reconnect(charger, clock)
    await charger.settle()
    (listed,) = await csms.service.list_sessions(charger.id)
    session = await csms.service.get_session(listed.session_id)
    assert session.state is SessionState.COMPLETED
    assert session.started_at == started_at  # the original time, not the delivery time
    assert session.stopped_at == stopped_at
    assert session.offline is (version == "2.0.1")  # 1.6 has no flag, only the timestamps
    assert session.energy_wh == 250  # 150 s at 6 kW
    energy = [r for r in session.readings if r.measurand == "Energy.Active.Import.Register"]
    assert [r.value for r in energy if r.context == "Sample.Periodic"] == [100.0, 200.0]
    assert [r.timestamp - started_at for r in energy if r.context == "Sample.Periodic"] == [
        timedelta(seconds=60),
        timedelta(seconds=120),
    ]


async def test_unknown_token_is_not_authorised_offline(charger_factory):
    charger = await charger_factory("CP-OFF-AUTH", "1.6")
    await charger.go_offline()
    assert await charger.authorize("NEVER-SEEN") is False


async def test_disconnect_mid_session_loses_no_energy(csms, charger_factory):
    clock = ManualClock()
    charger = await charger_factory("CP-DROP", "2.0.1", clock, meter_interval_s=60)
    await charger.plug_in(1)
    await charger.start_transaction(1, VALID_TOKEN)
    charger.set_power(1, 12_000)
    await clock.advance(60)
    await charger.settle()
    await charger.go_offline()
    await clock.advance(120)
    await charger.stop_transaction(1, "Local")
    await _reconnect(charger, clock)
    await charger.settle()
    (session,) = await csms.service.list_sessions(charger.id)
    assert session.energy_wh == 600 == charger.evse(1).meter.register_wh()


async def test_energy_meter_integrates_power_over_clock_time():
    clock = ManualClock()
    meter = EnergyMeter(clock, initial_wh=1_000)
    meter.set_power(3_600)
    await clock.advance(1_800)
    meter.set_power(7_200)
    await clock.advance(900)
    assert meter.energy_wh() == pytest.approx(1_000 + 1_800 + 1_800)
    assert meter.register_wh() == 4_600
    with pytest.raises(ValueError):
        meter.set_power(-1)
