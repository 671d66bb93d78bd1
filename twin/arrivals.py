"""The EVs that come to the network, drawn deterministically from a seeded generator.

Two builders produce the same :class:`Arrival` snapshots:

- :func:`generated_arrivals`: synthetic demand, a non-homogeneous Poisson process per site with
  an expected number of arrivals per local hour, lognormal stays and energies;
- :func:`replayed_arrivals`: real sessions from an ACN-Data CSV (e.g. the shipped Caltech week,
  :data:`ACN_CALTECH_WEEK_CSV`), with the car model, arrival state of charge and driver token
  drawn at random because the data does not hold them.

Both take plain values (no scenario objects), and the same inputs with an equally seeded
``numpy.random.Generator`` give identical lists. Arrival ids ``A0001, A0002, ...`` follow
arrival time; ties are broken by site order (generated) or by session id and file row (replay).

The energy an EV needs is metered energy (``need_wh``, at the charger); its battery gains
``need_wh * efficiency``. The arrival state of charge is lowered when needed so the need fits
the battery (see :func:`fit_need_to_battery`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from twin.ev_catalogue import EvModel, model_shares

ACN_CALTECH_WEEK_CSV = (
    Path(__file__).resolve().parents[1] / "scenarios" / "data" / "acn_caltech_2019-06-10_week.csv"
)
"""239 real Caltech ACN sessions, local days 2019-06-10..16 (see scenarios/data/README.md)."""

ACN_ARRIVAL = "arrival"
ACN_DEPARTURE = "departure"
ACN_REQUESTED_KWH = "requested_energy (kWh)"
ACN_DELIVERED_KWH = "delivered_energy (kWh)"
ACN_STATION = "station_id"
ACN_SESSION = "session_id"
ACN_REQUIRED_COLUMNS = (
    ACN_ARRIVAL,
    ACN_DEPARTURE,
    ACN_REQUESTED_KWH,
    ACN_DELIVERED_KWH,
    ACN_STATION,
    ACN_SESSION,
)

UNKNOWN_TOKEN_PREFIX = "UNKNOWN-"

SKIP_BAD_TIMES = "bad_times"
"""Arrival or departure unparsable or without a UTC offset, or departure <= arrival."""
SKIP_ZERO_ENERGY = "zero_energy"
"""The chosen energy column is missing or not positive."""
SKIP_BAD_REQUESTED = "bad_requested"
"""The requested energy is missing or negative (while the need comes from delivered energy)."""

Distribution = tuple[float, float, float, float | None]
"""(mean, sd, min, max) of a lognormal draw clipped to [min, max]; max None means unbounded."""

_SLOT_S = 900  # local-hour boundaries fall on 15-minute UTC boundaries in every tz database zone
_OFFSET_RE = r"(?:Z|[+-]\d{2}:?\d{2})$"


@dataclass(frozen=True)
class Arrival:
    """One EV visit: when it comes and goes, what it wants, and who drives it."""

    arrival_id: str
    site_id: str
    arrival: datetime  # tz-aware UTC
    departure: datetime  # tz-aware UTC, > arrival
    need_wh: int  # energy the EV wants at the meter; the battery gains need_wh * efficiency
    requested_wh: int  # what the driver asked for (replay: ACN requested energy)
    station_id: str | None  # replay: the ACN station id; generated: None
    source_session_id: str | None  # replay: the ACN session id; generated: None
    id_token: str
    ev_model: str
    arrival_soc: float  # 0..1
    leave_when_full: bool

    def __post_init__(self) -> None:
        for name in ("arrival", "departure"):
            moment = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
                raise ValueError(f"{self.arrival_id}: {name} must be tz-aware UTC, got {moment}")
        if self.departure <= self.arrival:
            raise ValueError(f"{self.arrival_id}: departure must be after arrival")
        if self.need_wh <= 0 or self.requested_wh < 0:
            raise ValueError(f"{self.arrival_id}: need_wh must be > 0 and requested_wh >= 0")
        if not 0.0 <= self.arrival_soc <= 1.0:
            raise ValueError(f"{self.arrival_id}: arrival_soc must be within 0..1")


@dataclass(frozen=True)
class ReplayedArrivals:
    """The arrivals replayed from a file, and how many rows were skipped for each reason."""

    arrivals: list[Arrival]
    skipped: dict[str, int]  # reason (SKIP_*) -> number of rows; every reason is present


# --- pure helpers -------------------------------------------------------------------------


def fit_need_to_battery(
    need_wh: int, soc_draw: float, battery_kwh: float, efficiency: float
) -> tuple[int, float]:
    """(need_wh, arrival_soc) such that the need fits in the battery.

    ``arrival_soc = min(soc_draw, max(0, 1 - need_wh * efficiency / battery_wh))``; if even an
    empty battery cannot hold the need, it is clipped to ``floor(battery_wh / efficiency)``.
    """
    battery_wh = battery_kwh * 1000.0
    if need_wh * efficiency > battery_wh:
        return math.floor(battery_wh / efficiency), 0.0
    return need_wh, min(soc_draw, max(0.0, 1.0 - need_wh * efficiency / battery_wh))


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal for a lognormal with this ``mean`` and ``sd``."""
    sigma2 = math.log1p((sd / mean) ** 2)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def _check_distribution(dist: Distribution, what: str, *, min_positive: bool) -> None:
    mean, sd, low, high = dist
    if not (math.isfinite(mean) and mean > 0 and math.isfinite(sd) and sd >= 0):
        raise ValueError(f"{what}: mean must be > 0 and sd >= 0, got {mean!r}, {sd!r}")
    if not math.isfinite(low) or low < 0 or (min_positive and low == 0):
        bound = "> 0" if min_positive else ">= 0"
        raise ValueError(f"{what}: min must be {bound}, got {low!r}")
    if high is not None and not high >= low:
        raise ValueError(f"{what}: max {high!r} is below min {low!r}")


def _clipped_lognormal(rng: np.random.Generator, n: int, dist: Distribution) -> np.ndarray:
    mean, sd, low, high = dist
    mu, sigma = lognormal_params(mean, sd)
    return np.clip(rng.lognormal(mu, sigma, n), low, np.inf if high is None else high)


def _check_common(
    population: dict[str, EvModel],
    efficiency: float,
    arrival_soc: tuple[float, float],
    drivers: Sequence[str],
    unknown_token_share: float,
) -> None:
    if not population:
        raise ValueError("population holds no EV model")
    if not 0.0 < efficiency <= 1.0:
        raise ValueError(f"efficiency must be within (0, 1], got {efficiency!r}")
    low, high = arrival_soc
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"arrival_soc must satisfy 0 <= lo <= hi <= 1, got {arrival_soc!r}")
    if not 0.0 <= unknown_token_share <= 1.0:
        raise ValueError(f"unknown_token_share must be within 0..1, got {unknown_token_share!r}")
    if not drivers and unknown_token_share < 1.0:
        raise ValueError("drivers is empty: no valid token to give an arriving EV")


@dataclass(frozen=True)
class _EvDraws:
    models: list[str]
    soc_draws: np.ndarray
    tokens: list[str]


def _draw_evs(
    rng: np.random.Generator,
    n: int,
    population: dict[str, EvModel],
    shares: dict[str, float] | None,
    arrival_soc: tuple[float, float],
    drivers: Sequence[str],
    unknown_token_share: float,
) -> _EvDraws:
    """Car model, arrival SoC draw and id token of ``n`` EVs, always in the same draw order."""
    p = model_shares(population, shares)
    names = list(p)
    model_index = rng.choice(len(names), size=n, p=np.fromiter(p.values(), float))
    soc_draws = rng.uniform(arrival_soc[0], arrival_soc[1], n)
    unknown = rng.random(n) < unknown_token_share
    driver_index = rng.integers(0, max(len(drivers), 1), n)
    codes = rng.integers(0, 16**4, n)
    tokens = [
        f"{UNKNOWN_TOKEN_PREFIX}{code:04X}" if is_unknown else drivers[index]
        for is_unknown, index, code in zip(unknown, driver_index, codes, strict=True)
    ]
    return _EvDraws([names[i] for i in model_index], soc_draws, tokens)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment}")
    return moment.astimezone(UTC)


def _hour_slots(
    start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of [start, end) with constant local hour: (offset_s from start, duration_s, hour).

    The pieces are the 15-minute UTC slots clipped to [start, end); every tz database zone
    changes offset on such a boundary, so each slot lies in one local hour. Wall-clock hours
    that repeat when clocks go back are counted twice; skipped ones get no arrivals.
    """
    start_s, end_s = start.timestamp(), end.timestamp()
    first = math.floor(start_s / _SLOT_S) * _SLOT_S
    bounds = np.arange(first, end_s, _SLOT_S, dtype=float)
    lows = np.maximum(bounds, start_s)
    highs = np.minimum(bounds + _SLOT_S, end_s)
    hours = np.array(
        [datetime.fromtimestamp(b, UTC).astimezone(zone).hour for b in bounds], dtype=int
    )
    return lows - start_s, highs - lows, hours


# --- generated demand ---------------------------------------------------------------------


def generated_arrivals(
    *,
    site_ids: list[str],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    rate_per_hour: Sequence[float],
    stay_h: Distribution,
    energy_kwh: Distribution,
    population: dict[str, EvModel],
    shares: dict[str, float] | None,
    efficiency: float,
    arrival_soc: tuple[float, float],
    drivers: Sequence[str],
    unknown_token_share: float,
    leave_when_full: bool,
    rng: np.random.Generator,
) -> list[Arrival]:
    """Synthetic arrivals at each site in [start, end), sorted by arrival time.

    ``rate_per_hour[h]`` is the expected number of arrivals per site during local hour ``h``
    (local in ``zone``, DST-aware). Stays (hours) and energies (kWh, at the meter) are
    lognormal with the given mean and sd, clipped to [min, max]; departures may fall after
    ``end``. Arrival times are whole seconds after ``start``. The car model follows ``shares``
    (None: registrations, see :func:`twin.ev_catalogue.model_shares`), the arrival SoC is
    uniform in ``arrival_soc`` then fitted by :func:`fit_need_to_battery`, and the token is a
    random one of ``drivers`` or, with probability ``unknown_token_share``, ``UNKNOWN-xxxx``.
    """
    start_utc, end_utc = _aware(start, "start"), _aware(end, "end")
    if end_utc <= start_utc:
        raise ValueError(f"end {end} must be after start {start}")
    rates = np.asarray(rate_per_hour, dtype=float)
    if rates.shape != (24,) or not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("rate_per_hour must hold 24 finite non-negative values")
    if len(set(site_ids)) != len(site_ids):
        raise ValueError(f"site_ids repeat a site: {site_ids!r}")
    _check_distribution(stay_h, "stay_h", min_positive=True)
    _check_distribution(energy_kwh, "energy_kwh", min_positive=False)
    _check_common(population, efficiency, arrival_soc, drivers, unknown_token_share)

    offsets, durations, hours = _hour_slots(start_utc, end_utc, zone)
    expected = rates[hours] * durations / 3600.0
    drafts: list[tuple[datetime, int, int, Arrival]] = []
    for site_order, site_id in enumerate(site_ids):
        counts = rng.poisson(expected)
        slot = np.repeat(np.arange(len(counts)), counts)
        arrival_s = np.sort(np.floor(offsets[slot] + rng.random(slot.size) * durations[slot]))
        stays_h = _clipped_lognormal(rng, slot.size, stay_h)
        energies_kwh = _clipped_lognormal(rng, slot.size, energy_kwh)
        evs = _draw_evs(
            rng, slot.size, population, shares, arrival_soc, drivers, unknown_token_share
        )
        for i in range(slot.size):
            arrival = start_utc + timedelta(seconds=int(arrival_s[i]))
            stay_s = max(1, round(float(stays_h[i]) * 3600.0))
            model = evs.models[i]
            need_wh, soc = fit_need_to_battery(
                max(1, round(float(energies_kwh[i]) * 1000.0)),
                float(evs.soc_draws[i]),
                population[model].battery_kwh,
                efficiency,
            )
            draft = Arrival(
                arrival_id="",
                site_id=site_id,
                arrival=arrival,
                departure=arrival + timedelta(seconds=stay_s),
                need_wh=need_wh,
                requested_wh=need_wh,
                station_id=None,
                source_session_id=None,
                id_token=evs.tokens[i],
                ev_model=model,
                arrival_soc=soc,
                leave_when_full=leave_when_full,
            )
            drafts.append((arrival, site_order, i, draft))
    drafts.sort(key=lambda item: item[:3])
    return _numbered([draft for *_, draft in drafts], drivers)


def _numbered(drafts: list[Arrival], drivers: Sequence[str]) -> list[Arrival]:
    """The drafts, in order, with ids A0001, A0002, ... (wider when there are more than 9999).

    A driver is in one place at a time: when the drawn driver is still parked elsewhere, the
    next free driver (in list order, wrapping) comes instead. Only when every driver is busy does
    a token arrive twice, and the central system then refuses it as ConcurrentTx.
    """
    width = max(4, len(str(len(drafts))))
    position = {token: n for n, token in enumerate(drivers)}
    busy_until: dict[str, datetime] = {}
    numbered = []
    for n, draft in enumerate(drafts, 1):
        token = draft.id_token
        if token in position:
            for step in range(len(drivers)):
                candidate = drivers[(position[draft.id_token] + step) % len(drivers)]
                if busy_until.get(candidate, draft.arrival) <= draft.arrival:
                    token = candidate
                    break
            busy_until[token] = max(busy_until.get(token, draft.departure), draft.departure)
        numbered.append(replace(draft, arrival_id=f"A{n:0{width}d}", id_token=token))
    return numbered


# --- replayed ACN-Data --------------------------------------------------------------------


def read_acn_sessions(path: str | Path) -> pd.DataFrame:
    """An ACN-Data CSV (plain or .gz) as strings, with its required columns checked.

    Raises ValueError naming the file and the first missing column.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as error:
        raise ValueError(f"{path}: empty file, expected an ACN-Data CSV") from error
    for column in ACN_REQUIRED_COLUMNS:
        if column not in frame.columns:
            raise ValueError(f"{path}: missing column {column!r} (an ACN-Data CSV needs it)")
    return frame


def _utc_times(text: pd.Series) -> pd.Series:
    """Parse times that carry a UTC offset; anything else (incl. naive times) becomes NaT."""
    text = text.str.strip()
    times = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    return times.where(text.str.contains(_OFFSET_RE, regex=True))


def replayed_arrivals(
    *,
    path: str | Path,
    site_id: str,
    first_day: date,
    days: int,
    zone: ZoneInfo,
    energy: Literal["delivered", "requested"] = "delivered",
    population: dict[str, EvModel],
    shares: dict[str, float] | None,
    efficiency: float,
    arrival_soc: tuple[float, float],
    drivers: Sequence[str],
    leave_when_full: bool,
    rng: np.random.Generator,
) -> ReplayedArrivals:
    """The sessions of an ACN-Data CSV arriving on local days [first_day, first_day + days).

    Times come from the file (converted to UTC), ``need_wh`` from the ``energy`` column
    ("delivered" or "requested", kWh -> Wh rounded), ``requested_wh`` from the requested column,
    ``station_id`` and ``source_session_id`` as in the file. The file has no cars or users, so
    each session draws a car model by ``shares``, an arrival SoC as in
    :func:`generated_arrivals` and a random token of ``drivers``. Rows in the window with bad
    times or energies are skipped and counted by reason (``SKIP_*``); a row whose arrival cannot
    be parsed cannot be placed in the window and is counted as ``bad_times`` too.
    """
    if energy not in ("delivered", "requested"):
        raise ValueError(f"energy must be 'delivered' or 'requested', got {energy!r}")
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days!r}")
    _check_common(population, efficiency, arrival_soc, drivers, 0.0)
    path = Path(path)
    frame = read_acn_sessions(path)

    arrivals = _utc_times(frame[ACN_ARRIVAL])
    departures = _utc_times(frame[ACN_DEPARTURE])
    delivered = pd.to_numeric(frame[ACN_DELIVERED_KWH], errors="coerce")
    requested = pd.to_numeric(frame[ACN_REQUESTED_KWH], errors="coerce")
    need_kwh = delivered if energy == "delivered" else requested

    local_day = arrivals.dt.tz_convert(zone).dt.date
    last_day = first_day + timedelta(days=days)
    in_window = arrivals.notna() & local_day.ge(first_day) & local_day.lt(last_day)
    bad_times = arrivals.isna() | (in_window & ~(departures > arrivals))
    zero_energy = in_window & ~bad_times & ~(need_kwh > 0)
    bad_requested = in_window & ~bad_times & ~zero_energy & ~(requested >= 0)
    skipped = {
        SKIP_BAD_TIMES: int(bad_times.sum()),
        SKIP_ZERO_ENERGY: int(zero_energy.sum()),
        SKIP_BAD_REQUESTED: int(bad_requested.sum()),
    }
    keep = in_window & ~bad_times & ~zero_energy & ~bad_requested

    rows = pd.DataFrame(
        {
            "arrival": arrivals[keep],
            "departure": departures[keep],
            "need_kwh": need_kwh[keep],
            "requested_kwh": requested[keep],
            "station_id": frame.loc[keep, ACN_STATION],
            "session_id": frame.loc[keep, ACN_SESSION],
            "row": np.flatnonzero(keep.to_numpy()),
        }
    ).sort_values(["arrival", "session_id", "row"], kind="stable")

    evs = _draw_evs(rng, len(rows), population, shares, arrival_soc, drivers, 0.0)
    drafts = []
    for i, row in enumerate(rows.itertuples(index=False)):
        model = evs.models[i]
        need_wh, soc = fit_need_to_battery(
            max(1, round(float(row.need_kwh) * 1000.0)),
            float(evs.soc_draws[i]),
            population[model].battery_kwh,
            efficiency,
        )
        drafts.append(
            Arrival(
                arrival_id="",
                site_id=site_id,
                arrival=row.arrival.to_pydatetime(),
                departure=row.departure.to_pydatetime(),
                need_wh=need_wh,
                requested_wh=round(float(row.requested_kwh) * 1000.0),
                station_id=row.station_id or None,
                source_session_id=row.session_id or None,
                id_token=evs.tokens[i],
                ev_model=model,
                arrival_soc=soc,
                leave_when_full=leave_when_full,
            )
        )
    return ReplayedArrivals(arrivals=_numbered(drafts, drivers), skipped=skipped)
