"""Sites, prices and bills in the central system, over real OCPP and the REST API.

One priced site with a 1.6 and a 2.0.1 charger on a hand-moved clock: prices are published
per quarter hour from the measured load, each session is billed per interval, the driver sees
the same total on the charger, and the site (policy, tariff) survives a restart.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from central_system.app import CentralSystem
from central_system.domain.model import MeterSample, Site
from central_system.pricing import Money, TariffConfig
from chargers_sim import ChargerConfig, emulated_charger
from tests.clock import ManualClock
from tests.conftest import SECOND_TOKEN, VALID_TOKEN, csms_settings, seed_tokens

START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
TARIFF = TariffConfig(
    currency="AED",
    time_zone="Asia/Dubai",
    bands=[{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 123}],
    surcharge=[{"above_utilisation": 0.5, "add_minor_per_kwh": 40}],
)
SITE = Site(
    site_id="yard",
    name="Yard",
    grid_limit_w=20_000,
    policy="equal_share",
    evse_power_w={"YARD-16": 11_000, "YARD-201": 11_000},
    tariff=TARIFF,
)


async def settle(*chargers) -> None:
    """Let the CSMS's database work and the messages it causes finish (real time)."""
    for _ in range(2):
        await asyncio.sleep(0.05)
        for charger in chargers:
            await charger.settle()


async def advance(clock: ManualClock, seconds: float, *chargers) -> None:
    """Move time in five-minute steps, letting each step's exchanges finish."""
    for _ in range(int(seconds // 300)):
        await clock.advance(300)
        await settle(*chargers)


async def charging(central, charger_id: str, version: str, id_token: str, **config):
    """An emulated charger of the site, online, with a transaction on EVSE 1."""
    charger = emulated_charger(
        ChargerConfig(charger_id, central.ocpp_url, ocpp_version=version, **config), central.clock
    )
    await charger.power_on()
    await charger.wait_online()
    await charger.plug_in(1)
    await charger.start_transaction(1, id_token)
    await settle(charger)
    return charger


@pytest.fixture
async def central(sqlite_url):
    clock = ManualClock(START)
    central = CentralSystem(csms_settings(sqlite_url, auto_register=True), clock)
    await central.start()
    await seed_tokens(central)
    await central.add_site(SITE)
    yield central
    await central.stop()


async def test_sessions_are_billed_per_interval_and_shown_to_the_driver(central):
    clock = central.clock
    chargers = [
        await charging(central, "YARD-16", "1.6", VALID_TOKEN, meter_interval_s=60),
        await charging(central, "YARD-201", "2.0.1", SECOND_TOKEN, meter_interval_s=60),
    ]
    for charger in chargers:
        charger.set_power(1, 11_000)  # the planner's profile caps it at its share
    await settle(*chargers)
    await advance(clock, 1800, *chargers)  # two quarter-hour boundaries
    for charger in chargers:
        await charger.stop_transaction(1, "Local")
    await settle(*chargers)

    async with httpx.AsyncClient(base_url=central.api_url, timeout=10) as api:
        sessions = (await api.get("/sessions")).json()
        assert len(sessions) == 2
        for listed in sessions:
            detail = (await api.get(f"/sessions/{listed['session_id']}")).json()
            assert detail["currency"] == "AED"
            lines = detail["charges"]
            assert sum(line["energy_wh"] for line in lines) == detail["energy_wh"] > 0
            assert sum(line["amount_minor"] for line in lines) == detail["total_cost_minor"]
            for line in lines:  # 123 fils/kWh, plus 40 once the site runs above half its limit
                assert line["price_minor_per_kwh"] in (123, 163)
                exact = Decimal(line["price_minor_per_kwh"] * line["energy_wh"]) / 1000
                assert abs(line["amount_minor"] - exact) <= Decimal("0.5")
            assert detail["total_cost"] == str(Money(detail["total_cost_minor"], "AED").major)
            charger = next(c for c in chargers if c.id == detail["charger_id"])
            # What the driver saw on the charger is the bill, in both versions.
            shown = charger.display.final_cost(detail["transaction_ref"])
            assert shown == Decimal(detail["total_cost"])
            assert charger.display.running_cost(detail["transaction_ref"]) is not None
        prices = await api.get(
            "/sites/yard/prices",
            params={"start": START.isoformat(), "end": (START + timedelta(hours=1)).isoformat()},
        )
        published = prices.json()
        assert [p["start"][11:16] for p in published] == ["08:00", "08:15", "08:30"]
        assert published[0]["price_minor_per_kwh"] == 123  # published idle, before any start
        assert published[1]["components"] == {
            "base": 123,
            "surcharge": 40,
            "wholesale": 0,
            "bound": 0,
        }
    for charger in chargers:
        await charger.power_off()


async def test_driver_needs_and_policy_switch_over_the_api(central, sqlite_url):
    charger = await charging(central, "YARD-201", "2.0.1", VALID_TOKEN)
    async with httpx.AsyncClient(base_url=central.api_url, timeout=10) as api:
        (session,) = (await api.get("/sessions")).json()
        url = f"/sessions/{session['session_id']}/needs"
        departure = (START + timedelta(hours=3)).isoformat()
        put = await api.put(url, json={"departure_at": departure, "energy_wh": 12_000})
        assert put.status_code == 200
        assert put.json()["energy_target_wh"] == 12_000
        naive = await api.put(url, json={"departure_at": "2025-01-06T11:00:00", "energy_wh": 1})
        assert naive.status_code == 422
        assert (
            await api.put(
                "/sessions/999/needs", json=put.json() | {"energy_wh": 1, "departure_at": departure}
            )
        ).status_code == 404

        switched = await api.put("/sites/yard/policy", json={"policy": "edf"})
        assert switched.status_code == 200 and switched.json()["policy"] == "edf"
        assert central.planner.policy("yard") == "edf"
        assert (await api.put("/sites/yard/policy", json={"policy": "magic"})).status_code == 400
        assert (await api.put("/sites/nope/policy", json={"policy": "edf"})).status_code == 404
        (site,) = (await api.get("/sites")).json()
        assert site == {
            "site_id": "yard",
            "name": "Yard",
            "grid_limit_w": 20_000,
            "policy": "edf",
            "currency": "AED",
            "chargers": ["YARD-16", "YARD-201"],
        }
        await charger.stop_transaction(1, "Local")
        await settle(charger)
        done = await api.put(url, json={"departure_at": departure, "energy_wh": 1})
        assert done.status_code == 409
    await charger.power_off()

    # A restart on the same database resumes the site with its switched policy and its tariff,
    # and the session keeps what the driver said.
    await central.stop()
    again = CentralSystem(csms_settings(sqlite_url), ManualClock(START + timedelta(hours=1)))
    await again.start(with_api=False)
    try:
        (site,) = await again.list_sites()
        assert site.policy == "edf" and site.tariff == TARIFF
        assert again.planner.policy("yard") == "edf" and again.billing.priced("yard")
        stored = await again.service.get_session(session["session_id"])
        assert stored.energy_target_wh == 12_000
        assert stored.departure_at == START + timedelta(hours=3)
    finally:
        await again.stop()
    await central.start()  # the fixture stops it again


async def test_a_restart_resumes_the_sessions_under_way(central, sqlite_url):
    """Sessions active when the CSMS stops are planned and priced again after it restarts."""
    charger = await charging(central, "YARD-16", "1.6", VALID_TOKEN)
    (session,) = await central.service.list_sessions()
    assert session.session_id in central.planner.plan("yard")
    await charger.power_off()
    await central.stop()

    again = CentralSystem(csms_settings(sqlite_url), ManualClock(START + timedelta(minutes=5)))
    await again.start(with_api=False)
    try:
        assert again.planner.plan("yard") == {session.session_id: 11_000.0}
        # Billing follows it again: its next power reading counts towards the site's load.
        reading = MeterSample(again.clock.now(), "Power.Active.Import", 10_000.0, "W")
        again.billing.session_metered(session.session_id, [reading])
        assert again.billing.utilisation("yard") == 0.5
    finally:
        await again.stop()
    await central.start()  # the fixture stops it again
