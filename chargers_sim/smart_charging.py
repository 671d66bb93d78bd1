"""Charging profiles and the composite schedule, as OCPP 1.6 (3.13) and 2.0.1 (K01, K08) say.

Pure and version-agnostic: the protocol adapters map their wire types to the values here.

- Purposes, normalised from both versions: "ChargePointMax" (1.6 ChargePointMaxProfile, 2.0.1
  ChargingStationMaxProfile), "TxDefault" (TxDefaultProfile), "Tx" (TxProfile).
- Within one purpose, the valid and active profile with the highest stack level prevails at
  each instant; where its schedule has not started, has ended (duration) or it is not valid
  (validFrom/validTo), the next lower stack level shows through (1.6 3.13.2).
- The transaction limit is the prevailing TxProfile, else the prevailing TxDefaultProfile of the
  EVSE itself, else the prevailing TxDefaultProfile of EVSE 0 (1.6 3.13.1: a TxDefaultProfile on a
  connector replaces the one of connector 0 "only for that specific connector").
- The composite limit is the lowest of the prevailing ChargePointMax profile, the transaction
  limit and the EVSE's rating (1.6 3.13.3). Without any profile it is the rating.
- Limits are compared in W: an A limit is A x voltage x phases on AC (the period's numberPhases,
  default the supply's phases, K01.FR.49/50), A x voltage on DC. A composite in A is per phase
  for the supply's phases.
- EVSE 0's composite is what the charger as a whole may draw: the sum of its EVSEs' limits, held
  down by the ChargePointMax profile (1.6 GetCompositeSchedule, K08: "total expected").
- The ChargePointMax profile limits the charger as a whole, so EVSEs charging at once share it
  (`share_w`). How is the charger's choice; these chargers water-fill it: every EVSE gets the
  same level, clipped to its own limit, the level chosen to use the whole cap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

Purpose = Literal["ChargePointMax", "TxDefault", "Tx"]
Kind = Literal["Absolute", "Recurring", "Relative"]
Recurrency = Literal["Daily", "Weekly"]
RateUnit = Literal["A", "W"]

# Both versions' names of the purposes an emulated charger accepts.
WIRE_PURPOSES: dict[str, Purpose] = {
    "ChargePointMaxProfile": "ChargePointMax",
    "ChargingStationMaxProfile": "ChargePointMax",
    "TxDefaultProfile": "TxDefault",
    "TxProfile": "Tx",
}
RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}
# Beyond its last fixed instant every schedule repeats at most weekly.
_LONGEST_RECURRENCE = timedelta(days=7)


@dataclass(frozen=True)
class SchedulePeriod:
    start_s: int  # from the start of the schedule
    limit: float  # in the schedule's unit
    phases: int | None = None  # numberPhases; None: the supply's phases


@dataclass(frozen=True, kw_only=True)
class ChargingSchedule:
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    start: datetime | None = None  # startSchedule: Absolute and Recurring only
    duration_s: int | None = None  # None: the last period lasts (until the recurrence)
    min_rate: float | None = None  # minChargingRate: informative, not applied


@dataclass(frozen=True, kw_only=True)
class ChargingProfile:
    profile_id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedule: ChargingSchedule
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None


@dataclass(frozen=True)
class Rejection:
    """Why a profile was refused: a 2.0.1 statusInfo reasonCode and a readable detail."""

    reason_code: str
    detail: str


@dataclass(frozen=True)
class Supply:
    """How limits convert between A and W, and what an EVSE delivers at most."""

    rated_w: float  # one EVSE's rating
    voltage_v: float = 230.0  # AC: phase to neutral; DC: the DC voltage
    phases: int = 3
    dc: bool = False

    def to_w(self, unit: RateUnit, limit: float, phases: int | None) -> float:
        if unit == "W":
            return limit
        if self.dc:
            return limit * self.voltage_v
        used = self.phases if phases is None else min(phases, self.phases)
        return limit * self.voltage_v * used

    def from_w(self, unit: RateUnit, power_w: float) -> float:
        if unit == "W":
            return power_w
        return power_w / (self.voltage_v * (1 if self.dc else self.phases))


def _occurrence(profile: ChargingProfile, at: datetime, relative_start: datetime) -> datetime:
    """When the occurrence of the profile's schedule that `at` falls in (or follows) began."""
    schedule = profile.schedule
    if profile.kind == "Relative":
        return relative_start
    assert schedule.start is not None  # checked on installation (K01.FR.40)
    if profile.kind == "Absolute" or at < schedule.start:
        return schedule.start
    every = RECURRENCE[profile.recurrency or "Daily"]
    return schedule.start + every * ((at - schedule.start) // every)


def _length(profile: ChargingProfile) -> timedelta | None:
    """How long one occurrence of the schedule lasts (None: for ever)."""
    duration = profile.schedule.duration_s
    length = None if duration is None else timedelta(seconds=duration)
    if profile.kind == "Recurring":
        every = RECURRENCE[profile.recurrency or "Daily"]
        return every if length is None else min(length, every)
    return length


def period_at(
    profile: ChargingProfile, at: datetime, relative_start: datetime
) -> SchedulePeriod | None:
    """The period of `profile` in force at `at`; None where the profile says nothing."""
    if profile.valid_from is not None and at < profile.valid_from:
        return None
    if profile.valid_to is not None and at >= profile.valid_to:
        return None
    begun = _occurrence(profile, at, relative_start)
    if at < begun:
        return None
    offset_s = (at - begun).total_seconds()
    length = _length(profile)
    if length is not None and offset_s >= length.total_seconds():
        return None
    current = None
    for period in profile.schedule.periods:
        if period.start_s > offset_s:
            break
        current = period
    return current


def breakpoints(
    profile: ChargingProfile, after: datetime, before: datetime, relative_start: datetime
) -> Iterator[datetime]:
    """Every instant in (after, before) at which what `profile` says may change."""
    instants = [profile.valid_from, profile.valid_to]
    length = _length(profile)
    begun = _occurrence(profile, after, relative_start)
    every = RECURRENCE[profile.recurrency or "Daily"] if profile.kind == "Recurring" else None
    while begun < before:
        instants += [begun + timedelta(seconds=p.start_s) for p in profile.schedule.periods]
        if length is not None:
            instants.append(begun + length)
        if every is None:
            break
        begun += every
    return (t for t in instants if t is not None and after < t < before)


def _last_fixed_instant(profile: ChargingProfile, relative_start: datetime) -> datetime:
    """After this instant the profile is constant or repeats with its recurrence."""
    schedule = profile.schedule
    begun = relative_start if profile.kind == "Relative" else schedule.start
    assert begun is not None
    last = begun + timedelta(seconds=max(schedule.duration_s or 0, schedule.periods[-1].start_s))
    return max(t for t in (profile.valid_from, profile.valid_to, last) if t is not None)


class ProfileStore:
    """The charging profiles installed in one charger, per EVSE (0: the charger as a whole)."""

    def __init__(
        self,
        evse_ids: Iterable[int],
        *,
        max_stack_level: int = 8,
        max_periods: int = 24,
        max_profiles: int = 16,
    ) -> None:
        self.evse_ids = tuple(sorted(evse_ids))
        self.max_stack_level = max_stack_level
        self.max_periods = max_periods
        self.max_profiles = max_profiles
        self._profiles: dict[int, list[ChargingProfile]] = {n: [] for n in (0, *self.evse_ids)}

    def installed(self, evse_id: int | None = None) -> list[tuple[int, ChargingProfile]]:
        """(EVSE id, profile) of every installed profile, or of one EVSE's."""
        return [
            (n, profile)
            for n, profiles in self._profiles.items()
            if evse_id is None or n == evse_id
            for profile in profiles
        ]

    def install(
        self,
        evse_id: int,
        profile: ChargingProfile,
        *,
        in_transaction: bool = False,
        transaction_id: str | None = None,
    ) -> Rejection | None:
        """Install `profile` on `evse_id`; None when accepted, else why not.

        `in_transaction` and `transaction_id` describe the transaction running on the EVSE.
        A profile with the id of an installed one replaces it, wherever it is; so does one
        with the purpose and stack level of an installed one on the same EVSE (1.6 3.13.2).
        """
        rejection = self._check(evse_id, profile, in_transaction, transaction_id)
        if rejection is not None:
            return rejection

        def replaced(n: int, other: ChargingProfile) -> bool:
            same_slot = (other.purpose, other.stack_level) == (profile.purpose, profile.stack_level)
            return other.profile_id == profile.profile_id or (n == evse_id and same_slot)

        kept = [(n, p) for n, p in self.installed() if not replaced(n, p)]
        if len(kept) >= self.max_profiles:
            return Rejection("NoSpace", f"at most {self.max_profiles} profiles can be installed")
        for n in self._profiles:
            self._profiles[n] = [p for m, p in kept if m == n]
        self._profiles[evse_id].append(profile)
        return None

    def clear(
        self,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Remove the profile with `profile_id`, or every profile matching all criteria given.

        Returns whether anything was removed (ClearChargingProfile: Accepted, else Unknown).
        """

        def matches(n: int, p: ChargingProfile) -> bool:
            if profile_id is not None:
                return p.profile_id == profile_id
            return (
                (evse_id is None or n == evse_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        cleared = False
        for n, profiles in self._profiles.items():
            kept = [p for p in profiles if not matches(n, p)]
            cleared = cleared or len(kept) < len(profiles)
            self._profiles[n] = kept
        return cleared

    def transaction_ended(self, evse_id: int) -> bool:
        """Drop the EVSE's TxProfiles: they last as long as their transaction. True if any."""
        return self.clear(evse_id=evse_id, purpose="Tx")

    def charger_cap_w(
        self,
        at: datetime,
        *,
        rated_w: float,
        voltage_v: float = 230.0,
        phases: int = 3,
        dc: bool = False,
    ) -> float | None:
        """The prevailing ChargePointMax limit of the whole charger at `at`, in W (None: none)."""
        supply = Supply(rated_w, voltage_v, phases, dc)
        return self._prevailing_w(0, "ChargePointMax", at, at, supply)

    # -- the composite schedule ------------------------------------------------------------------
    def composite(
        self,
        evse_id: int,
        start: datetime,
        duration_s: int,
        unit: RateUnit,
        *,
        rated_w: float,
        transaction_start: datetime | None = None,
        voltage_v: float = 230.0,
        phases: int = 3,
        dc: bool = False,
        transaction_starts: Mapping[int, datetime] | None = None,
    ) -> list[tuple[int, float]]:
        """The composite schedule from `start` for `duration_s`: (offset_s, limit) periods.

        Limits are in `unit`, to 0.1, and equal consecutive periods are merged. A Relative
        profile counts from `transaction_start` (for EVSE 0: each EVSE's, `transaction_starts`),
        or from `start` when there is no transaction: what a transaction starting now would get.
        """
        supply = Supply(rated_w, voltage_v, phases, dc)
        starts = self._transaction_starts(evse_id, start, transaction_start, transaction_starts)
        end = start + timedelta(seconds=duration_s)
        instants = sorted({start, *self._breakpoints(evse_id, start, end, starts)})
        periods: list[tuple[int, float]] = []
        for at in instants:
            offset_s = round((at - start).total_seconds())
            limit = round(supply.from_w(unit, self._limit_w(evse_id, at, starts, supply)), 1)
            if periods and offset_s >= duration_s:
                break
            if periods and periods[-1][0] == offset_s:
                periods.pop()
            if not periods or periods[-1][1] != limit:
                periods.append((offset_s, limit))
        return periods

    def limit_w(
        self,
        evse_id: int,
        at: datetime,
        *,
        rated_w: float,
        transaction_start: datetime | None = None,
        voltage_v: float = 230.0,
        phases: int = 3,
        dc: bool = False,
        transaction_starts: Mapping[int, datetime] | None = None,
    ) -> float:
        """What the EVSE (0: the whole charger) may draw at `at`, in W."""
        supply = Supply(rated_w, voltage_v, phases, dc)
        starts = self._transaction_starts(evse_id, at, transaction_start, transaction_starts)
        return self._limit_w(evse_id, at, starts, supply)

    def next_change(
        self,
        evse_id: int,
        after: datetime,
        *,
        rated_w: float,
        transaction_start: datetime | None = None,
        voltage_v: float = 230.0,
        phases: int = 3,
        dc: bool = False,
        transaction_starts: Mapping[int, datetime] | None = None,
    ) -> datetime | None:
        """The first instant after `after` at which `limit_w` changes; None if it never does."""
        supply = Supply(rated_w, voltage_v, phases, dc)
        starts = self._transaction_starts(evse_id, after, transaction_start, transaction_starts)
        relevant = list(self._relevant(evse_id, starts))
        if not relevant:
            return None
        # After every profile's last fixed instant, the composite repeats at most weekly.
        horizon = max([after, *(_last_fixed_instant(p, s) for p, s in relevant)])
        before = horizon + _LONGEST_RECURRENCE + timedelta(seconds=1)
        now_w = self._limit_w(evse_id, after, starts, supply)
        # Look a day ahead, then twice as far each time: the next change is usually near.
        lo, span = after, timedelta(days=1)
        while lo < before:
            hi = min(lo + span, before)
            for at in sorted(set(self._breakpoints(evse_id, lo, hi, starts))):
                if self._limit_w(evse_id, at, starts, supply) != now_w:
                    return at
            if hi < before and self._limit_w(evse_id, hi, starts, supply) != now_w:
                return hi  # a change exactly at the window's edge
            lo, span = hi, span * 2
        return None

    # -- evaluation ------------------------------------------------------------------------------
    def _transaction_starts(
        self,
        evse_id: int,
        reference: datetime,
        transaction_start: datetime | None,
        transaction_starts: Mapping[int, datetime] | None,
    ) -> dict[int, datetime]:
        """Where each EVSE's Relative profiles count from."""
        if evse_id != 0:
            return {evse_id: transaction_start or reference}
        given = transaction_starts or {}
        return {n: given.get(n, reference) for n in self.evse_ids}

    def _stack(self, evse_id: int, purpose: Purpose) -> list[ChargingProfile]:
        """The EVSE's profiles of `purpose`, highest stack level first."""
        chosen = [p for p in self._profiles.get(evse_id, []) if p.purpose == purpose]
        return sorted(chosen, key=lambda p: -p.stack_level)

    def _prevailing_w(
        self, evse_id: int, purpose: Purpose, at: datetime, relative_start: datetime, supply: Supply
    ) -> float | None:
        for profile in self._stack(evse_id, purpose):
            period = period_at(profile, at, relative_start)
            if period is not None:
                return supply.to_w(profile.schedule.unit, period.limit, period.phases)
        return None

    def _evse_limit_w(
        self, evse_id: int, at: datetime, relative_start: datetime, supply: Supply
    ) -> float:
        """The EVSE's own limit: its transaction limit within its rating (no charger cap)."""
        for n, purpose in ((evse_id, "Tx"), (evse_id, "TxDefault"), (0, "TxDefault")):
            limit_w = self._prevailing_w(n, purpose, at, relative_start, supply)
            if limit_w is not None:
                return min(limit_w, supply.rated_w)
        return supply.rated_w

    def _limit_w(
        self, evse_id: int, at: datetime, starts: Mapping[int, datetime], supply: Supply
    ) -> float:
        cap_w = self._prevailing_w(0, "ChargePointMax", at, at, supply)
        if evse_id == 0:
            own_w = sum(self._evse_limit_w(n, at, starts[n], supply) for n in self.evse_ids)
        else:
            own_w = self._evse_limit_w(evse_id, at, starts[evse_id], supply)
        return own_w if cap_w is None else min(own_w, cap_w)

    def _relevant(
        self, evse_id: int, starts: Mapping[int, datetime]
    ) -> Iterator[tuple[ChargingProfile, datetime]]:
        """Every profile that can shape the EVSE's composite, with its Relative start."""
        for n, relative_start in starts.items():
            for source, purpose in ((n, "Tx"), (n, "TxDefault"), (0, "TxDefault")):
                for profile in self._stack(source, purpose):
                    yield profile, relative_start
        first = next(iter(starts.values()))
        for profile in self._stack(0, "ChargePointMax"):
            yield profile, first

    def _breakpoints(
        self, evse_id: int, after: datetime, before: datetime, starts: Mapping[int, datetime]
    ) -> Iterator[datetime]:
        for profile, relative_start in self._relevant(evse_id, starts):
            yield from breakpoints(profile, after, before, relative_start)

    # -- what SetChargingProfile accepts --------------------------------------------------------
    def _check(
        self,
        evse_id: int,
        profile: ChargingProfile,
        in_transaction: bool,
        transaction_id: str | None,
    ) -> Rejection | None:
        if evse_id not in self._profiles:
            return Rejection("UnknownEvse", f"there is no EVSE {evse_id}")
        if not 0 <= profile.stack_level <= self.max_stack_level:
            return Rejection("InvalidStackLevel", f"stackLevel must be 0..{self.max_stack_level}")
        problem = _schedule_problem(profile, self.max_periods)
        if problem is not None:
            return Rejection("InvalidSchedule", problem)
        if profile.purpose == "ChargePointMax":
            if evse_id != 0:
                return Rejection("InvalidValue", "a ChargePointMax profile belongs on EVSE 0")
            if profile.kind == "Relative":  # K01.FR.38
                return Rejection("InvalidValue", "a ChargePointMax profile cannot be Relative")
        if profile.purpose == "Tx":
            if evse_id == 0:  # 1.6 3.13.1, K01.FR.16
                return Rejection("InvalidValue", "a TxProfile needs an EVSE other than 0")
            if not in_transaction:  # 1.6 3.13.1, K01.FR.09
                return Rejection("TxNotFound", f"no transaction on EVSE {evse_id}")
            if profile.transaction_id is not None and profile.transaction_id != transaction_id:
                return Rejection(  # K01.FR.33
                    "TxNotFound", f"transaction {profile.transaction_id} is not on EVSE {evse_id}"
                )
        return None


def _schedule_problem(profile: ChargingProfile, max_periods: int) -> str | None:
    schedule = profile.schedule
    periods = schedule.periods
    if profile.kind in ("Absolute", "Recurring") and schedule.start is None:
        return f"an {profile.kind} schedule needs startSchedule"  # K01.FR.40
    if profile.kind == "Relative" and schedule.start is not None:
        return "a Relative schedule has no startSchedule"  # K01.FR.41
    if profile.kind == "Recurring" and profile.recurrency not in RECURRENCE:
        return "a Recurring profile needs recurrencyKind"
    if not periods or periods[0].start_s != 0:
        return "the first period must start at 0"  # K01.FR.31
    if len(periods) > max_periods:
        return f"at most {max_periods} periods"
    if any(b.start_s <= a.start_s for a, b in pairwise(periods)):
        return "startPeriod must increase"
    if any(p.limit < 0 or not math.isfinite(p.limit) for p in periods):
        return "limits must be finite and >= 0"
    if any(p.phases is not None and p.phases not in (1, 2, 3) for p in periods):
        return "numberPhases must be 1, 2 or 3"
    if schedule.duration_s is not None and schedule.duration_s <= 0:
        return "duration must be > 0"
    return None


def share_w(own_w: Mapping[int, float], cap_w: float) -> dict[int, float]:
    """The charger's cap shared among EVSEs charging at once, each within its own limit:
    the same level for all, clipped to each EVSE's limit, using as much of the cap as it can."""
    shares: dict[int, float] = {}
    left_w, waiting = max(0.0, cap_w), sorted(own_w, key=lambda n: (own_w[n], n))
    while waiting:
        level_w = left_w / len(waiting)
        evse_id = waiting[0]
        if own_w[evse_id] > level_w:
            return shares | {n: level_w for n in waiting}
        shares[evse_id] = own_w[evse_id]
        left_w -= own_w[evse_id]
        waiting.pop(0)
    return shares
