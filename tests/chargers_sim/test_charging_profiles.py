"""Smart charging over a real WebSocket: the central system's raw SetChargingProfile,
ClearChargingProfile and GetCompositeSchedule CALLs, answered by emulated chargers of both
versions, and the limits they put on what an EV draws."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ocppj.wire import to_wire_time
from tests.clock import ManualClock
from tests.conftest import VALID_TOKEN

PROFILE_ID = 11
# 7.4 kW for half an hour, then 11 kW.
PERIODS = [{"start_period": 0, "limit": 7400.0}, {"start_period": 1800, "limit": 11000.0}]


def tx_profile(version: str, transaction_id: str | None, start, periods=PERIODS) -> dict:
    schedule = {
        "start_schedule": to_wire_time(start),
        "charging_rate_unit": "W",
        "charging_schedule_period": periods,
    }
    common = {
        "stack_level": 1,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Absolute",
    }
    if version == "1.6":
        profile = {"charging_profile_id": PROFILE_ID, "charging_schedule": schedule, **common}
        if transaction_id is not None:
            profile["transaction_id"] = int(transaction_id)
        return profile
    return {
        "id": PROFILE_ID,
        "transaction_id": transaction_id,
        "charging_schedule": [{"id": 1, **schedule}],
        **common,
    }


def set_profile(version: str, evse_id: int, profile: dict):
    if version == "1.6":
        return call16.SetChargingProfile(connector_id=evse_id, cs_charging_profiles=profile)
    return call201.SetChargingProfile(evse_id=evse_id, charging_profile=profile)


def clear_profile(version: str, profile_id: int):
    if version == "1.6":
        return call16.ClearChargingProfile(id=profile_id)
    return call201.ClearChargingProfile(charging_profile_id=profile_id)


async def composite(link, version: str, evse_id: int, duration_s: int, unit: str = "W"):
    """The charger's composite schedule: (status, schedule start, [(offset, limit)])."""
    if version == "1.6":
        reply = await link.request(
            call16.GetCompositeSchedule(
                connector_id=evse_id, duration=duration_s, charging_rate_unit=unit
            )
        )
        schedule = reply.charging_schedule
        start = reply.schedule_start
    else:
        reply = await link.request(
            call201.GetCompositeSchedule(
                duration=duration_s, evse_id=evse_id, charging_rate_unit=unit
            )
        )
        schedule = reply.schedule
        start = schedule and schedule["schedule_start"]
    if reply.status != "Accepted":
        return reply.status, None, None
    assert schedule["charging_rate_unit"] == unit and schedule["duration"] == duration_s
    periods = [(p["start_period"], p["limit"]) for p in schedule["charging_schedule_period"]]
    return reply.status, start, periods


async def charging(charger_factory, version: str, name: str):
    """A charger on a manual clock with a transaction on EVSE 1 and its hook recorded."""
    clock = ManualClock()
    charger = await charger_factory(f"CP-{name}-{version}", version, clock)
    changes: list[int] = []
    charger.on_limit_change = changes.append
    await charger.plug_in(1)
    transaction = await charger.start_transaction(1, VALID_TOKEN)
    await charger.settle()  # 1.6: the central system has given the transaction its id
    return charger, clock, transaction, changes


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_tx_profile_caps_the_draw_until_it_is_cleared(csms, charger_factory, version):
    charger, clock, transaction, changes = await charging(charger_factory, version, "TXP")
    link = csms.gateway.link(charger.id)
    assert charger.set_power(1, 22_000) == 22_000  # no profile: the rating
    assert charger.next_limit_change(1) is None

    profile = tx_profile(version, transaction.transaction_id, clock.now())
    assert (await link.request(set_profile(version, 1, profile))).status == "Accepted"
    await charger.settle()
    assert changes == [1]  # told after the answer
    assert charger.evse(1).meter.power_w == 7_400  # held within the limit at once
    assert charger.set_power(1, 22_000) == 7_400
    assert charger.offered_w(1) == 7_400
    assert charger.next_limit_change(1) == clock.now() + timedelta(seconds=1800)

    status, start, periods = await composite(link, version, 1, 3600)
    assert (status, start) == ("Accepted", to_wire_time(clock.now()))
    assert periods == [(0, 7400.0), (1800, 11000.0)]
    # In A, per phase on three phases at 230 V: 7400 / 690 = 10.7 A, 11000 / 690 = 15.9 A.
    assert (await composite(link, version, 1, 3600, "A"))[2] == [(0, 10.7), (1800, 15.9)]
    # EVSE 0, the charger as a whole: the one EVSE's limit.
    assert (await composite(link, version, 0, 3600))[2] == [(0, 7400.0), (1800, 11000.0)]
    assert (await composite(link, version, 2, 3600))[0] == "Rejected"  # no such EVSE

    await clock.advance(60)  # a periodic meter sample reports the capped draw
    await charger.settle()
    (session,) = await csms.service.list_sessions(charger.id)
    readings = (await csms.service.get_session(session.session_id)).readings
    assert [r.value for r in readings if r.measurand == "Power.Active.Import"] == [7400.0]

    await clock.advance(1740)  # the schedule's second period
    assert charger.set_power(1, 22_000) == 11_000
    assert charger.next_limit_change(1) is None

    assert (await link.request(clear_profile(version, PROFILE_ID))).status == "Accepted"
    await charger.settle()
    assert changes == [1, 1]
    assert charger.set_power(1, 22_000) == 22_000  # the rating again
    assert (await composite(link, version, 1, 600))[2] == [(0, 22000.0)]
    assert (await link.request(clear_profile(version, PROFILE_ID))).status == "Unknown"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_tx_profile_without_a_transaction_is_rejected(csms, charger_factory, version):
    clock = ManualClock()
    charger = await charger_factory(f"CP-NOTXP-{version}", version, clock)
    changes: list[int] = []
    charger.on_limit_change = changes.append
    link = csms.gateway.link(charger.id)
    profile = tx_profile(version, "4711", clock.now())
    reply = await link.request(set_profile(version, 1, profile))
    assert reply.status == "Rejected"
    if version == "2.0.1":
        assert reply.status_info["reason_code"] == "TxNotFound"
    await charger.settle()
    assert changes == []
    assert charger.profiles.installed() == []


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_the_end_of_the_transaction_drops_its_profile(csms, charger_factory, version):
    charger, clock, transaction, _ = await charging(charger_factory, version, "END")
    link = csms.gateway.link(charger.id)
    profile = tx_profile(version, transaction.transaction_id, clock.now())
    assert (await link.request(set_profile(version, 1, profile))).status == "Accepted"
    await charger.stop_transaction(1, "Local")
    assert charger.profiles.installed() == []
    await charger.start_transaction(1, VALID_TOKEN)
    assert charger.set_power(1, 22_000) == 22_000


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_default_profile_for_all_evses_and_the_settings(csms, charger_factory, version):
    clock = ManualClock()
    charger = await charger_factory(f"CP-DEF-{version}", version, clock, evse_count=2)
    changes: list[int] = []
    charger.on_limit_change = changes.append
    link = csms.gateway.link(charger.id)
    # A TxDefaultProfile on EVSE 0 applies to every EVSE: 16 A on three phases = 11040 W.
    profile = tx_profile(
        version, None, clock.now(), [{"start_period": 0, "limit": 16.0, "number_phases": 3}]
    )
    profile["charging_profile_purpose"] = "TxDefaultProfile"
    schedule = profile["charging_schedule"]
    for each in schedule if isinstance(schedule, list) else [schedule]:
        each["charging_rate_unit"] = "A"
    profile.pop("transaction_id", None)
    assert (await link.request(set_profile(version, 0, profile))).status == "Accepted"
    await charger.settle()
    assert changes == [0]  # EVSE 0: all of them
    assert charger.offered_w(1) == charger.offered_w(2) == 11_040
    # The charger as a whole: both EVSEs' limits.
    assert (await composite(link, version, 0, 600))[2] == [(0, 22080.0)]
    assert (await composite(link, version, 2, 600, "A"))[2] == [(0, 16.0)]

    keys = {
        "1.6": ["ChargeProfileMaxStackLevel", "ChargingScheduleMaxPeriods"],
        "2.0.1": ["SmartChargingCtrlr.ProfileStackLevel", "SmartChargingCtrlr.PeriodsPerSchedule"],
    }[version]
    assert await link.get_settings(keys) == dict(zip(keys, ["8", "24"], strict=True))
    assert await link.set_setting(keys[0], "3") == "Rejected"  # read-only
    if version == "1.6":
        profiles = await link.get_settings(["SupportedFeatureProfiles"])
        assert "SmartCharging" in profiles["SupportedFeatureProfiles"].split(",")


async def test_a_remote_start_with_a_tx_profile_uses_it(csms, charger_factory):
    clock = ManualClock()
    charger = await charger_factory("CP-RSP", "1.6", clock)
    changes: list[int] = []
    charger.on_limit_change = changes.append
    link = csms.gateway.link(charger.id)
    profile = tx_profile("1.6", None, clock.now())
    reply = await link.request(
        call16.RemoteStartTransaction(id_tag=VALID_TOKEN, connector_id=1, charging_profile=profile)
    )
    assert reply.status == "Accepted"
    await charger.settle()
    assert charger.evse(1).transaction is not None
    assert changes == [1]
    assert charger.set_power(1, 22_000) == 7_400


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_charger_wide_cap_is_shared_by_the_evses_charging(csms, charger_factory, version):
    """A ChargePointMax / ChargingStationMax profile limits the charger as a whole: two EVSEs
    charging at once share it (each EVSE's composite still shows the cap, as the specs define
    it); when one stops, the other may take the whole cap again."""
    clock = ManualClock()
    charger = await charger_factory(f"CP-MAX-{version}", version, clock, evse_count=2)
    changes: list[int] = []
    charger.on_limit_change = changes.append
    link = csms.gateway.link(charger.id)
    profile = tx_profile(version, None, clock.now(), [{"start_period": 0, "limit": 15_000.0}])
    profile.pop("transaction_id", None)
    profile["charging_profile_purpose"] = (
        "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"
    )
    assert (await link.request(set_profile(version, 0, profile))).status == "Accepted"
    for evse_id in (1, 2):
        await charger.plug_in(evse_id)
    await charger.start_transaction(1, VALID_TOKEN)
    assert charger.set_power(1, 22_000) == 15_000  # alone: the whole cap
    await charger.start_transaction(2, "TAG-SECOND")
    await charger.settle()
    assert charger.evse(1).meter.power_w == 7_500  # held to its share at once
    assert charger.set_power(2, 22_000) == 7_500
    assert charger.evse(1).meter.power_w + charger.evse(2).meter.power_w == 15_000
    assert 0 in changes  # the EVs at every EVSE were told to decide their draw again
    assert (await composite(link, version, 1, 600))[2] == [(0, 15000.0)]
    assert (await composite(link, version, 0, 600))[2] == [(0, 15000.0)]

    await charger.stop_transaction(2, "Local")
    assert charger.offered_w(1) == 15_000
    assert charger.set_power(1, 22_000) == 15_000
