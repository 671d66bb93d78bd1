"""The composite schedule, worked out by hand from the OCPP 1.6 (3.13) and 2.0.1 (K01, K08) text.

Every case uses a charger whose EVSEs are rated 22 kW, on 230 V and three phases unless it says
otherwise. T0 is Monday 2025-01-06 00:00 UTC; offsets are seconds from the window's start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargers_sim.smart_charging import (
    ChargingProfile,
    ChargingSchedule,
    ProfileStore,
    SchedulePeriod,
)

T0 = datetime(2025, 1, 6, tzinfo=UTC)
RATED_W = 22_000.0
H = 3600


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def profile(
    profile_id: int,
    level: int,
    purpose: str,
    periods: list[tuple],
    *,
    kind: str = "Absolute",
    start: datetime | None = T0,
    duration_s: int | None = None,
    unit: str = "W",
    **extra,
) -> ChargingProfile:
    return ChargingProfile(
        profile_id=profile_id,
        stack_level=level,
        purpose=purpose,
        kind=kind,
        schedule=ChargingSchedule(
            unit=unit,
            periods=tuple(SchedulePeriod(*p) for p in periods),
            start=None if kind == "Relative" else start,
            duration_s=duration_s,
        ),
        **extra,
    )


def store(*installs: tuple[int, ChargingProfile], evses=(1, 2), tx=True) -> ProfileStore:
    profiles = ProfileStore(evses)
    for evse_id, p in installs:
        assert profiles.install(evse_id, p, in_transaction=tx) is None
    return profiles


def composite(profiles: ProfileStore, evse_id=1, start=T0, duration_s=5 * H, unit="W", **kw):
    return profiles.composite(evse_id, start, duration_s, unit, rated_w=RATED_W, **kw)


def test_without_profiles_the_rating_is_the_limit():
    # Nothing installed: nothing limits the EVSE but its own rating.
    profiles = ProfileStore([1])
    assert composite(profiles) == [(0, 22_000.0)]
    assert profiles.limit_w(1, T0, rated_w=RATED_W) == RATED_W
    assert profiles.next_change(1, T0, rated_w=RATED_W) is None


def test_higher_stack_level_wins_while_valid_and_the_lower_shows_outside_its_duration():
    # 3.13.2: at each instant the valid profile with the highest stackLevel prevails.
    # Level 0: 11 kW from T0, for ever. Level 1: starts at 1 h, lasts 2 h: 4 kW, then 6 kW.
    #   0-1 h  level 1 has not started            -> level 0: 11 kW
    #   1-2 h  level 1, first period               -> 4 kW
    #   2-3 h  level 1, second period (3600 s in)  -> 6 kW
    #   3 h-   level 1's duration is over          -> level 0 again: 11 kW
    profiles = store(
        (1, profile(1, 0, "TxDefault", [(0, 11_000)])),
        (1, profile(2, 1, "TxDefault", [(0, 4_000), (H, 6_000)], start=at(H), duration_s=2 * H)),
    )
    assert composite(profiles) == [(0, 11_000), (H, 4_000), (2 * H, 6_000), (3 * H, 11_000)]
    assert profiles.next_change(1, T0, rated_w=RATED_W) == at(H)
    assert profiles.next_change(1, at(2.5 * H), rated_w=RATED_W) == at(3 * H)
    assert profiles.next_change(1, at(3 * H), rated_w=RATED_W) is None


def test_two_stacked_tx_default_profiles_give_a_schedule_not_an_empty_one():
    # Two TxDefaultProfiles on the EVSE: level 0 says 11 kW, level 1 says 6 kW for 30 min.
    # Level 1 prevails for its 30 minutes, then level 0 shows through: both appear.
    profiles = store(
        (1, profile(1, 0, "TxDefault", [(0, 11_000)])),
        (1, profile(2, 1, "TxDefault", [(0, 6_000)], duration_s=1800)),
    )
    assert composite(profiles, duration_s=H) == [(0, 6_000), (1800, 11_000)]


def test_tx_profile_overrules_tx_default_whatever_the_stack_levels():
    # 3.13.1: a TxProfile overrules the TxDefaultProfile; stack levels compare within a purpose.
    # TxDefault level 5: 3 kW. TxProfile level 0: 7 kW for 1 h.
    #   0-1 h  the TxProfile says 7 kW                  -> 7 kW (more than the TxDefault)
    #   1 h-   its duration is over, it says nothing    -> the TxDefault: 3 kW
    profiles = store(
        (1, profile(1, 5, "TxDefault", [(0, 3_000)])),
        (1, profile(2, 0, "Tx", [(0, 7_000)], duration_s=H)),
    )
    assert composite(profiles, duration_s=2 * H) == [(0, 7_000), (H, 3_000)]


def test_charge_point_max_caps_the_transaction_limit():
    # 3.13.3: the composite is the minimum of the ChargePointMaxProfile and the Tx limit.
    # Max (EVSE 0): 10 kW, from 2 h 5 kW. TxProfile: 7 kW, from 1 h 12 kW.
    #   0-1 h  min(10, 7)  = 7 kW
    #   1-2 h  min(10, 12) = 10 kW
    #   2 h-   min(5, 12)  = 5 kW
    profiles = store(
        (0, profile(1, 0, "ChargePointMax", [(0, 10_000), (2 * H, 5_000)])),
        (1, profile(2, 0, "Tx", [(0, 7_000), (H, 12_000)])),
    )
    assert composite(profiles, duration_s=3 * H) == [(0, 7_000), (H, 10_000), (2 * H, 5_000)]
    # The rating caps too: 30 kW allowed, 22 kW deliverable.
    profiles = store((1, profile(1, 0, "Tx", [(0, 30_000)])))
    assert composite(profiles, duration_s=H) == [(0, 22_000)]


def test_recurring_daily_profile_across_midnight():
    # Level 0 TxDefault: 3.7 kW for ever. Level 1: Recurring Daily from Monday 22:00, lasting
    # 8 h: 11 kW, then from 2 h in (midnight) 7.4 kW; restarts every 24 h at 22:00.
    # Window Tuesday 20:00 to Wednesday 08:00:
    #   20:00  Monday's occurrence ended Tuesday 06:00; Tuesday's starts at 22:00 -> 3.7 kW
    #   22:00  Tuesday's occurrence, first period                               -> 11 kW
    #   00:00  2 h into it, second period (past midnight)                        -> 7.4 kW
    #   06:00  8 h duration over: level 0 shows through                         -> 3.7 kW
    nightly = profile(
        2,
        1,
        "TxDefault",
        [(0, 11_000), (2 * H, 7_400)],
        kind="Recurring",
        recurrency="Daily",
        start=at(22 * H),
        duration_s=8 * H,
    )
    profiles = store((0, profile(1, 0, "TxDefault", [(0, 3_700)])), (0, nightly))
    tuesday_20h = at(44 * H)
    assert composite(profiles, start=tuesday_20h, duration_s=12 * H) == [
        (0, 3_700),
        (2 * H, 11_000),
        (4 * H, 7_400),
        (10 * H, 3_700),
    ]
    # Wednesday 01:00 lies in the occurrence that began Tuesday 22:00: 3 h in, 7.4 kW until 06:00.
    wednesday_1h = at(49 * H)
    assert profiles.limit_w(1, wednesday_1h, rated_w=RATED_W) == 7_400
    assert profiles.next_change(1, wednesday_1h, rated_w=RATED_W) == at(54 * H)
    # Before its first occurrence (Monday 22:00) the recurring profile says nothing.
    assert profiles.limit_w(1, at(21 * H), rated_w=RATED_W) == 3_700


def test_recurring_weekly_restarts_seven_days_after_start_schedule():
    # Weekly from Monday T0, 1 h long, 2 kW: Monday 00:00-01:00 each week, else the rating.
    weekly = profile(
        1, 0, "TxDefault", [(0, 2_000)], kind="Recurring", recurrency="Weekly", duration_s=H
    )
    profiles = store((1, weekly))
    assert profiles.limit_w(1, at(7 * 24 * H + 1800), rated_w=RATED_W) == 2_000
    assert profiles.limit_w(1, at(24 * H + 1800), rated_w=RATED_W) == RATED_W
    # From Monday 01:00, the next change is the next Monday 00:00.
    assert profiles.next_change(1, at(H), rated_w=RATED_W) == at(7 * 24 * H)


def test_relative_profile_counts_from_the_transaction_start():
    # TxProfile Relative: 6 kW, from 30 min into the transaction 9 kW, lasting 1 h in all.
    # Transaction started at T0+10 min; window from T0+20 min (10 min into the transaction):
    #   +0     10 min in: first period                         -> 6 kW
    #   +20min 30 min in (T0+40 min): second period             -> 9 kW
    #   +50min 60 min in (T0+70 min): duration over, no profile -> the rating, 22 kW
    relative = profile(1, 0, "Tx", [(0, 6_000), (1800, 9_000)], kind="Relative", duration_s=H)
    profiles = store((1, relative))
    started = at(600)
    assert composite(profiles, start=at(1200), duration_s=H, transaction_start=started) == [
        (0, 6_000),
        (1200, 9_000),
        (3000, 22_000),
    ]
    # Without a transaction a Relative schedule starts with the window: what a transaction
    # starting now would get.
    assert composite(profiles, start=at(1200), duration_s=H) == [(0, 6_000), (1800, 9_000)]


def test_valid_from_and_valid_to_bound_a_profile():
    # Level 1 (5 kW) is valid only from 1 h to 2 h; level 0 (8 kW) always.
    #   0-1 h  level 1 not yet valid -> 8 kW
    #   1-2 h  level 1 valid         -> 5 kW
    #   2 h-   level 1 expired       -> 8 kW
    profiles = store(
        (1, profile(1, 0, "TxDefault", [(0, 8_000)])),
        (1, profile(2, 1, "TxDefault", [(0, 5_000)], valid_from=at(H), valid_to=at(2 * H))),
    )
    assert composite(profiles, duration_s=3 * H) == [(0, 8_000), (H, 5_000), (2 * H, 8_000)]


def test_amperes_and_watts_convert_with_the_number_of_phases():
    # K01.FR.49/50: W = A x 230 V x numberPhases, three phases when it is not given.
    #   0-1 h  16 A, 3 phases: 16 x 230 x 3 = 11040 W
    #   1 h-   16 A, 1 phase:  16 x 230 x 1 =  3680 W
    # In A (per phase on the charger's three phases): 11040 / 690 = 16.0, 3680 / 690 = 5.33.
    profiles = store((1, profile(1, 0, "Tx", [(0, 16), (H, 16, 1)], unit="A")))
    assert composite(profiles, duration_s=2 * H) == [(0, 11_040), (H, 3_680)]
    assert composite(profiles, duration_s=2 * H, unit="A") == [(0, 16.0), (H, 5.3)]
    # A single-phase charger: 16 A is 3680 W whatever numberPhases claims.
    assert composite(profiles, duration_s=H, phases=1) == [(0, 3_680)]
    # DC: A x the DC voltage, phases do not apply. 16 A at 400 V = 6.4 kW; 50 A = 20 kW.
    assert composite(profiles, duration_s=2 * H, dc=True, voltage_v=400) == [(0, 6_400)]
    dc = store((1, profile(1, 0, "Tx", [(0, 50)], unit="A")))
    assert composite(dc, duration_s=H, dc=True, voltage_v=400) == [(0, 20_000)]


def test_an_evse_specific_tx_default_replaces_the_one_on_evse_0_for_that_evse():
    # 1.6 3.13.1: a TxDefaultProfile on connector N replaces the one of connector 0 for N only,
    # whatever the stack levels. EVSE 0: level 3, 4 kW. EVSE 1: level 0, 9 kW for 1 h.
    #   EVSE 1, 0-1 h  its own profile: 9 kW
    #   EVSE 1, 1 h-   its own says nothing any more: EVSE 0's shows through, 4 kW
    #   EVSE 2         only EVSE 0's: 4 kW
    profiles = store(
        (0, profile(1, 3, "TxDefault", [(0, 4_000)])),
        (1, profile(2, 0, "TxDefault", [(0, 9_000)], duration_s=H)),
    )
    assert composite(profiles, evse_id=1, duration_s=2 * H) == [(0, 9_000), (H, 4_000)]
    assert composite(profiles, evse_id=2, duration_s=2 * H) == [(0, 4_000)]


def test_equal_consecutive_periods_are_merged():
    # TxDefault 7 kW, 7 kW again at 10 min, 5 kW at 20 min; ChargePointMax 10 kW, 7 kW at 30 min.
    #   0      min(10, 7) = 7
    #   10 min min(10, 7) = 7   same as before: merged
    #   20 min min(10, 5) = 5
    #   30 min min(7, 5)  = 5   same as before: merged
    profiles = store(
        (1, profile(1, 0, "TxDefault", [(0, 7_000), (600, 7_000), (1200, 5_000)])),
        (0, profile(2, 0, "ChargePointMax", [(0, 10_000), (1800, 7_000)])),
    )
    assert composite(profiles, duration_s=H) == [(0, 7_000), (1200, 5_000)]


def test_evse_0_is_the_whole_charger():
    # Two EVSEs of 11 kW. EVSE 1 has a 4 kW TxDefault; EVSE 2 none. ChargePointMax 20 kW, 10 kW
    # from 1 h. The charger as a whole: 4 + 11 = 15 kW, within 20 kW; from 1 h, 10 kW.
    profiles = store(
        (1, profile(1, 0, "TxDefault", [(0, 4_000)])),
        (0, profile(2, 0, "ChargePointMax", [(0, 20_000), (H, 10_000)])),
    )
    periods = profiles.composite(0, T0, 2 * H, "W", rated_w=11_000)
    assert periods == [(0, 15_000), (H, 10_000)]


def test_the_window_cuts_the_schedule():
    # A change at 2 h is outside a 1 h window.
    profiles = store((1, profile(1, 0, "TxDefault", [(0, 7_000), (2 * H, 3_000)])))
    assert composite(profiles, duration_s=H) == [(0, 7_000)]


# -- what SetChargingProfile, ClearChargingProfile and the end of a transaction do -------------
def test_same_id_replaces_wherever_it_is():
    profiles = store((1, profile(7, 0, "TxDefault", [(0, 4_000)])))
    assert profiles.install(0, profile(7, 2, "TxDefault", [(0, 5_000)])) is None
    assert [(n, p.stack_level) for n, p in profiles.installed()] == [(0, 2)]


def test_same_purpose_and_stack_level_on_the_same_evse_replaces():
    profiles = store((1, profile(1, 0, "TxDefault", [(0, 4_000)])))
    assert profiles.install(1, profile(2, 0, "TxDefault", [(0, 5_000)])) is None
    assert profiles.install(2, profile(3, 0, "TxDefault", [(0, 6_000)])) is None  # other EVSE
    assert [(n, p.profile_id) for n, p in profiles.installed()] == [(1, 2), (2, 3)]


@pytest.mark.parametrize(
    ("evse_id", "p", "in_transaction", "transaction_id", "reason"),
    [
        (1, profile(1, 0, "Tx", [(0, 1)]), False, None, "TxNotFound"),
        (1, profile(1, 0, "Tx", [(0, 1)], transaction_id="9"), True, "8", "TxNotFound"),
        (0, profile(1, 0, "Tx", [(0, 1)]), True, None, "InvalidValue"),
        (1, profile(1, 0, "ChargePointMax", [(0, 1)]), False, None, "InvalidValue"),
        (
            0,
            profile(1, 0, "ChargePointMax", [(0, 1)], kind="Relative"),
            False,
            None,
            "InvalidValue",
        ),
        (3, profile(1, 0, "TxDefault", [(0, 1)]), False, None, "UnknownEvse"),
        (1, profile(1, 9, "TxDefault", [(0, 1)]), False, None, "InvalidStackLevel"),
        (1, profile(1, 0, "TxDefault", [(60, 1)]), False, None, "InvalidSchedule"),
        (1, profile(1, 0, "TxDefault", [(0, 1)], start=None), False, None, "InvalidSchedule"),
        (1, profile(1, 0, "TxDefault", [(0, 1)], kind="Recurring"), False, None, "InvalidSchedule"),
    ],
)
def test_refused_profiles(evse_id, p, in_transaction, transaction_id, reason):
    profiles = ProfileStore([1, 2])
    rejection = profiles.install(
        evse_id, p, in_transaction=in_transaction, transaction_id=transaction_id
    )
    assert rejection is not None and rejection.reason_code == reason
    assert profiles.installed() == []


def test_tx_profile_with_the_running_transaction_id_is_accepted():
    profiles = ProfileStore([1])
    p = profile(1, 0, "Tx", [(0, 1)], transaction_id="8")
    assert profiles.install(1, p, in_transaction=True, transaction_id="8") is None


def test_the_number_of_installed_profiles_is_limited():
    profiles = ProfileStore([1], max_profiles=2)
    assert profiles.install(1, profile(1, 0, "TxDefault", [(0, 1)])) is None
    assert profiles.install(1, profile(2, 1, "TxDefault", [(0, 1)])) is None
    assert profiles.install(1, profile(3, 2, "TxDefault", [(0, 1)])).reason_code == "NoSpace"
    assert profiles.install(1, profile(2, 1, "TxDefault", [(0, 2)])) is None  # a replacement


def test_clear_by_id_or_by_criteria():
    profiles = store(
        (0, profile(1, 0, "ChargePointMax", [(0, 1)])),
        (1, profile(2, 0, "TxDefault", [(0, 1)])),
        (1, profile(3, 1, "TxDefault", [(0, 1)])),
        (2, profile(4, 1, "TxDefault", [(0, 1)])),
    )
    assert profiles.clear(profile_id=99) is False
    assert profiles.clear(profile_id=1) is True
    assert profiles.clear(evse_id=1, stack_level=1) is True  # profile 3 only
    assert [p.profile_id for _, p in profiles.installed()] == [2, 4]
    assert profiles.clear(purpose="Tx") is False
    assert profiles.clear() is True  # no criteria: everything
    assert profiles.installed() == []


def test_the_end_of_a_transaction_drops_its_tx_profiles():
    profiles = store(
        (1, profile(1, 0, "Tx", [(0, 5_000)])),
        (1, profile(2, 0, "TxDefault", [(0, 8_000)])),
        (2, profile(3, 0, "Tx", [(0, 5_000)])),
    )
    assert profiles.transaction_ended(1) is True
    assert [(n, p.profile_id) for n, p in profiles.installed()] == [(1, 2), (2, 3)]
    assert profiles.limit_w(1, T0, rated_w=RATED_W) == 8_000
