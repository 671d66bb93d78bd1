"""Site load-management policies: the power each active session may draw for the next step.

The CSMS re-plans a site on every session start or stop and on an interval of ``step_s``
seconds; ``allocate`` returns one allocation in W per session, which becomes that session's
OCPP charging profile. Policies are pure functions of read-only snapshots (``SessionNeeds``,
``SiteSignals``) and ``now``: no I/O, no clock, no randomness, so the same call gives the same
answer in the twin and in the live CSMS.

Guarantees of every policy
--------------------------
* The allocations add up to at most ``limit_w`` -- the hard guarantee, "uncontrolled"
  included. Allocations are floored to multiples of 1/1024 W (about 1 mW), which add up
  exactly, so the guarantee holds for a plain ``sum()`` in any order. (Only a session whose
  ``min_power_w`` is itself off that grid may get exactly its minimum.)
* Each allocation is 0 or within ``[min_power_w, max_power_w]`` of its session.
* A session with ``energy_needed_wh <= 0`` gets 0, and so does one that cannot charge at all
  (``max_power_w == 0`` or ``min_power_w > max_power_w``).
* Ties are broken by arrival, then by key; the order of ``sessions`` does not matter.
* The result holds every session's key, in the order of ``sessions``.

Demand this step. Except under "uncontrolled" (a breaker knows nothing of energy), a session is
never given more than it can use before the next re-plan: ``energy_needed_wh * 3600 / step_s``
W, raised to ``min_power_w`` when that is below the EV's minimum. Unknown energy means "wants
``max_power_w``".

Laxity (s) = time to departure - time to deliver the energy at ``max_power_w``; +inf when the
departure or the energy is unknown. It is negative when the session can no longer finish.

The policies
------------
uncontrolled
    The site's dumb breaker: sessions in arrival order each draw ``max_power_w`` until the
    limit is used up; the first one that no longer fits gets the remainder if that is at least
    its ``min_power_w``, and every later session gets 0.
equal_share
    Round robin by water-filling: every served session gets the same level ``L``, clipped to
    its ``[min_power_w, demand]`` (so capped sessions hand their excess to the others and a
    session never gets less than its minimum), with ``L`` chosen to use the whole limit. When
    the minimums do not all fit, as many sessions as fit are served, taken in arrival order
    rotated by ``floor(now / step_s)`` positions, so that every session gets turns.
edf
    Earliest departure first (unknown departures last); each in turn gets
    ``min(demand, what is left)``, or 0 when what is left is below its minimum.
llf
    Least laxity first, served like edf.
price_aware
    Charges most when energy is cheapest. A session is *due* when the current step is among
    the ``N`` cheapest of the ``K`` steps that start before its departure (``N`` = steps it
    needs at ``max_power_w``, ties going to the earlier step), or when its laxity is
    ``<= step_s`` (it must charge now to finish; this also covers a last step cut short by the
    departure). Due sessions are served first, in LLF order, from the full
    limit; the others get what is left, in LLF order, only when waiting cannot buy cheaper
    energy: no step before their departure is cheaper than the current one (with an unknown
    departure or energy: the current price is at or below the median of the published prices),
    otherwise 0. Steps that no published price covers rank after all priced steps, and
    an unpriced current step is not cheap; with no prices published at all the policy is plain
    LLF.
renewable_following
    Follows on-site PV and a clean grid: the capacity is the PV output now plus the whole limit
    when the grid's carbon intensity now is at or below the median of its signal (or when no
    carbon signal is given), else plus ``dirty_grid_share`` (default 0.3) of the limit, and
    never more than ``limit_w``. Sessions with laxity ``<= step_s`` are served first, in LLF
    order, from the full limit, so drivers still leave with their energy; what they draw counts
    against the capacity, and the rest share what remains of it in LLF order.

Signals are ``(start, end, value)`` intervals, tz-aware, ``start < end``, not overlapping; the
value at ``t`` is that of the interval with ``start <= t < end``. Medians are taken over the
values of all intervals given. No PV interval at ``now`` means 0 W; a carbon signal that does
not cover ``now`` counts as a dirty grid.

Bad inputs (naive times, duplicate keys, negative or NaN powers or limit, overlapping
intervals) raise ``PolicyError``, an unknown policy ``UnknownPolicy``; both are ``ValueError``
and ``CentralSystemError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from central_system.errors import CentralSystemError

__all__ = [
    "NO_SIGNALS",
    "POLICIES",
    "PolicyError",
    "SessionNeeds",
    "SiteSignals",
    "UnknownPolicy",
    "allocate",
    "require_policy",
]

POLICIES = (
    "uncontrolled",
    "equal_share",
    "edf",
    "llf",
    "price_aware",
    "renewable_following",
)

Interval = tuple[datetime, datetime, float]

_EPS = 1e-9  # relative slack when counting whole steps, so that 2.0000000001 steps is 2
_GRID_PER_W = 1024  # allocations are floored to multiples of 1/1024 W (see _enforce_limit)


@dataclass(frozen=True)
class SessionNeeds:
    """What one active session needs, as the planner sees it at ``now``."""

    key: str  # session id: stable, breaks ties after the arrival
    arrival: datetime  # tz-aware
    max_power_w: float  # what the EVSE (and the EV, when known) can take
    min_power_w: float = 0.0  # below this the EV would stop (e.g. 6 A AC): 0 or >= min
    departure: datetime | None = None  # the driver's estimate; None = unknown
    energy_needed_wh: float | None = None  # still to deliver; None = unknown (wants max)


@dataclass(frozen=True)
class SiteSignals:
    """Forecasts for the site, as ``(start, end, value)`` intervals."""

    price_per_kwh: Sequence[Interval] = ()  # published tariff; any unit, only the order matters
    pv_w: Sequence[Interval] = ()  # on-site PV output forecast
    carbon_g_per_kwh: Sequence[Interval] = ()  # grid marginal emissions


NO_SIGNALS = SiteSignals()


class PolicyError(CentralSystemError, ValueError):
    """The planner was given inputs it cannot plan with."""

    code = "invalid_planning_input"


class UnknownPolicy(PolicyError):
    code = "unknown_policy"


@dataclass(frozen=True)
class _Signal:
    """A signal's intervals as arrays, sorted by start: POSIX seconds and values."""

    starts_s: np.ndarray
    ends_s: np.ndarray
    values: np.ndarray

    def at(self, t_s: np.ndarray) -> np.ndarray:
        """The signal at each time in ``t_s``; NaN where no interval covers it."""
        if not len(self.values):
            return np.full(len(t_s), np.nan)
        idx = np.searchsorted(self.starts_s, t_s, side="right") - 1
        safe = np.maximum(idx, 0)
        covered = (idx >= 0) & (t_s < self.ends_s[safe])
        return np.where(covered, self.values[safe], np.nan)


@dataclass(frozen=True)
class _Plan:
    """One planning call: the sessions reduced to arrays, indexed like ``sessions``."""

    now_s: float  # POSIX seconds
    step_s: float
    prices: _Signal
    pv: _Signal
    carbon: _Signal
    dirty_grid_share: float
    max_w: np.ndarray
    min_w: np.ndarray
    demand_w: np.ndarray  # max power, capped by the energy still needed this step
    energy_wh: np.ndarray  # nan = unknown
    to_departure_s: np.ndarray  # inf = unknown
    laxity_s: np.ndarray
    eligible: list[int]  # sessions that can and want to charge, in arrival/key order
    arrival_rank: np.ndarray  # position in arrival/key order


def require_policy(policy: str) -> None:
    """Raise UnknownPolicy unless `policy` is one of POLICIES."""
    if policy not in _POLICIES:
        raise UnknownPolicy(
            f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}",
            policy=policy,
            policies=POLICIES,
        )


def allocate(
    policy: str,
    sessions: Sequence[SessionNeeds],
    limit_w: float,
    now: datetime,
    signals: SiteSignals = NO_SIGNALS,
    *,
    step_s: float = 300,
    dirty_grid_share: float = 0.3,
) -> dict[str, float]:
    """Power in W per session key for the step starting at ``now``, under ``policy``.

    ``dirty_grid_share`` (0..1) is the share of ``limit_w`` that "renewable_following" draws
    from the grid while its carbon intensity is above the median; other policies ignore it.
    """
    require_policy(policy)
    run = _POLICIES[policy]
    if not limit_w >= 0:  # also refuses NaN; +inf means "no limit"
        raise PolicyError(f"limit_w must be >= 0, got {limit_w}", limit_w=limit_w)
    if not (math.isfinite(step_s) and step_s > 0):
        raise PolicyError(f"step_s must be > 0, got {step_s}", step_s=step_s)
    if not 0 <= dirty_grid_share <= 1:
        raise PolicyError(
            f"dirty_grid_share must be within 0..1, got {dirty_grid_share}",
            dirty_grid_share=dirty_grid_share,
        )
    plan = _prepare(sessions, now, step_s, signals, dirty_grid_share)
    alloc_w = run(plan, float(limit_w)) if plan.eligible else [0.0] * len(sessions)
    _enforce_limit(alloc_w, plan, float(limit_w))
    return {s.key: (float(a) if a > 0 else 0.0) for s, a in zip(sessions, alloc_w, strict=True)}


# -- policies ------------------------------------------------------------------------------


def _uncontrolled(plan: _Plan, limit_w: float) -> list[float]:
    alloc_w = [0.0] * len(plan.max_w)
    left_w = limit_w
    for i in plan.eligible:
        give_w = min(float(plan.max_w[i]), left_w)
        if give_w < plan.max_w[i]:  # the breaker's last customer
            if give_w >= plan.min_w[i] and give_w > 0:
                alloc_w[i] = give_w
            break
        alloc_w[i] = give_w
        left_w -= give_w
    return alloc_w


def _equal_share(plan: _Plan, limit_w: float) -> list[float]:
    order = plan.eligible
    turn = math.floor(plan.now_s / plan.step_s) % len(order)
    served, floor_w = [], 0.0
    for i in order[turn:] + order[:turn]:
        if floor_w + plan.min_w[i] <= limit_w:
            served.append(i)
            floor_w += float(plan.min_w[i])
    alloc_w = [0.0] * len(plan.max_w)
    if served:
        idx = np.array(served)
        levels_w = _water_fill(plan.min_w[idx], plan.demand_w[idx], limit_w)
        for i, a in zip(served, levels_w.tolist(), strict=True):
            alloc_w[i] = a
    return alloc_w


def _edf(plan: _Plan, limit_w: float) -> list[float]:
    order = sorted(plan.eligible, key=lambda i: (plan.to_departure_s[i], plan.arrival_rank[i]))
    alloc_w = [0.0] * len(plan.max_w)
    _serve(plan, order, limit_w, alloc_w)
    return alloc_w


def _llf(plan: _Plan, limit_w: float) -> list[float]:
    alloc_w = [0.0] * len(plan.max_w)
    _serve(plan, _llf_order(plan, plan.eligible), limit_w, alloc_w)
    return alloc_w


def _price_aware(plan: _Plan, limit_w: float) -> list[float]:
    prices = plan.prices.values
    eligible = np.array(plan.eligible)
    # Steps starting before departure, and steps needed at max power (both known only).
    known = np.isfinite(plan.to_departure_s[eligible]) & ~np.isnan(plan.energy_wh[eligible])
    steps_total = np.ones(len(eligible), dtype=np.int64)
    steps_needed = np.zeros(len(eligible), dtype=np.int64)
    if known.any():
        k = eligible[known]
        started = np.ceil(plan.to_departure_s[k] / plan.step_s * (1 - _EPS))
        steps_total[known] = np.maximum(started, 1).astype(np.int64)
        need = plan.energy_wh[k] * 3600.0 / (plan.max_w[k] * plan.step_s)
        steps_needed[known] = np.ceil(need * (1 - _EPS)).astype(np.int64)
    # Price of each step ahead (inf where unpublished), far enough for the longest window.
    horizon = 1
    if len(prices):
        horizon_s = plan.prices.ends_s.max() - plan.now_s
        horizon = int(min(steps_total.max(), max(1, math.ceil(horizon_s / plan.step_s))))
    step_prices = plan.prices.at(plan.now_s + np.arange(horizon) * plan.step_s)
    step_prices = np.where(np.isnan(step_prices), np.inf, step_prices)
    # cheaper[m] = how many of the steps 1..m are strictly cheaper than the current one.
    cheaper = np.concatenate([[0], np.cumsum(step_prices[1:] < step_prices[0])])
    rank_now = cheaper[np.minimum(steps_total, horizon) - 1]
    urgent = plan.laxity_s[eligible] <= plan.step_s
    due = (known & (rank_now < steps_needed)) | urgent
    cheap_now = len(prices) == 0 or step_prices[0] <= float(np.median(prices))

    # The others use what is left only when waiting cannot buy cheaper energy: no cheaper step
    # comes before they leave (an unknown departure: the price now is at or below the median).
    no_cheaper_ahead = np.where(known, rank_now == 0, cheap_now)
    alloc_w = [0.0] * len(plan.max_w)
    left_w = _serve(plan, _llf_order(plan, eligible[due].tolist()), limit_w, alloc_w)
    waiting = eligible[~due & no_cheaper_ahead].tolist()
    _serve(plan, _llf_order(plan, waiting), left_w, alloc_w)
    return alloc_w


def _renewable_following(plan: _Plan, limit_w: float) -> list[float]:
    now = np.array([plan.now_s])
    pv_w = float(plan.pv.at(now)[0])
    pv_w = 0.0 if math.isnan(pv_w) else max(0.0, pv_w)
    carbon = plan.carbon.values
    carbon_now = float(plan.carbon.at(now)[0])
    clean = len(carbon) == 0 or carbon_now <= float(np.median(carbon))  # NaN compares False
    share = 1.0 if clean else plan.dirty_grid_share
    capacity_w = min(limit_w, pv_w + share * limit_w)

    urgent = [i for i in plan.eligible if plan.laxity_s[i] <= plan.step_s]
    rest = [i for i in plan.eligible if not plan.laxity_s[i] <= plan.step_s]
    alloc_w = [0.0] * len(plan.max_w)
    _serve(plan, _llf_order(plan, urgent), limit_w, alloc_w)
    used_w = math.fsum(alloc_w[i] for i in urgent)
    _serve(plan, _llf_order(plan, rest), max(0.0, capacity_w - used_w), alloc_w)
    return alloc_w


_POLICIES: dict[str, Callable[[_Plan, float], list[float]]] = {
    "uncontrolled": _uncontrolled,
    "equal_share": _equal_share,
    "edf": _edf,
    "llf": _llf,
    "price_aware": _price_aware,
    "renewable_following": _renewable_following,
}
assert tuple(_POLICIES) == POLICIES


# -- building blocks -----------------------------------------------------------------------


def _prepare(
    sessions: Sequence[SessionNeeds],
    now: datetime,
    step_s: float,
    signals: SiteSignals,
    dirty_grid_share: float,
) -> _Plan:
    _require_aware(now, "now")
    n = len(sessions)
    if len({s.key for s in sessions}) != n:
        raise PolicyError("session keys must be unique")
    max_w = np.empty(n)
    min_w = np.empty(n)
    energy_wh = np.full(n, np.nan)
    to_departure_s = np.full(n, np.inf)
    for i, s in enumerate(sessions):
        _require_aware(s.arrival, f"arrival of {s.key}")
        max_w[i] = s.max_power_w
        min_w[i] = s.min_power_w
        if s.energy_needed_wh is not None:
            if math.isnan(s.energy_needed_wh):
                raise PolicyError(f"energy_needed_wh of {s.key} is NaN", key=s.key)
            energy_wh[i] = max(0.0, s.energy_needed_wh)
        if s.departure is not None:
            _require_aware(s.departure, f"departure of {s.key}")
            to_departure_s[i] = (s.departure - now).total_seconds()
    if n and not (np.isfinite(max_w).all() and np.isfinite(min_w).all()):
        raise PolicyError("max_power_w and min_power_w must be finite")
    if n and (max_w.min() < 0 or min_w.min() < 0):
        raise PolicyError("max_power_w and min_power_w must be >= 0")

    order = sorted(range(n), key=lambda i: (sessions[i].arrival, sessions[i].key))
    arrival_rank = np.empty(n, dtype=np.int64)
    arrival_rank[order] = np.arange(n)
    wants = np.isnan(energy_wh) | (energy_wh > 0)
    can = (max_w > 0) & (min_w <= max_w)
    eligible = [i for i in order if wants[i] and can[i]]

    with np.errstate(divide="ignore", invalid="ignore"):
        step_need_w = np.where(np.isnan(energy_wh), np.inf, energy_wh * 3600.0 / step_s)
        demand_w = np.maximum(np.minimum(max_w, step_need_w), min_w)
        laxity_s = to_departure_s - energy_wh * 3600.0 / max_w
    laxity_s = np.where(np.isnan(laxity_s), np.inf, laxity_s)  # unknown energy or max 0
    return _Plan(
        now_s=now.timestamp(),
        step_s=float(step_s),
        prices=_signal(signals.price_per_kwh, "price_per_kwh"),
        pv=_signal(signals.pv_w, "pv_w"),
        carbon=_signal(signals.carbon_g_per_kwh, "carbon_g_per_kwh"),
        dirty_grid_share=float(dirty_grid_share),
        max_w=max_w,
        min_w=min_w,
        demand_w=demand_w,
        energy_wh=energy_wh,
        to_departure_s=to_departure_s,
        laxity_s=laxity_s,
        eligible=eligible,
        arrival_rank=arrival_rank,
    )


def _require_aware(t: datetime, what: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise PolicyError(f"{what} must be timezone-aware, got {t!r}")


def _llf_order(plan: _Plan, indices: list[int]) -> list[int]:
    return sorted(indices, key=lambda i: (plan.laxity_s[i], plan.arrival_rank[i]))


def _serve(plan: _Plan, order: list[int], budget_w: float, alloc_w: list[float]) -> float:
    """Give each session in turn min(demand, what is left), or 0 below its minimum.

    Returns what is left of ``budget_w``.
    """
    for i in order:
        if budget_w <= 0:
            break
        give_w = min(float(plan.demand_w[i]), budget_w)
        if give_w >= plan.min_w[i]:
            alloc_w[i] = give_w
            budget_w -= give_w
    return max(0.0, budget_w)


def _water_fill(lo_w: np.ndarray, hi_w: np.ndarray, budget_w: float) -> np.ndarray:
    """``clip(L, lo_w, hi_w)`` with the level ``L`` at which the total is ``budget_w``.

    Expects ``lo_w <= hi_w`` and ``sum(lo_w) <= budget_w``; exact, in O(n log n).
    """
    if hi_w.sum() <= budget_w:
        return hi_w.copy()
    points = np.unique(np.concatenate([lo_w, hi_w]))
    lo_sorted, hi_sorted = np.sort(lo_w), np.sort(hi_w)
    lo_prefix = np.concatenate([[0.0], np.cumsum(lo_sorted)])
    hi_prefix = np.concatenate([[0.0], np.cumsum(hi_sorted)])
    n_lo_le = np.searchsorted(lo_sorted, points, side="right")  # lo <= p: at least p
    n_hi_le = np.searchsorted(hi_sorted, points, side="right")  # hi <= p: capped at hi
    between = n_lo_le - n_hi_le  # lo <= p < hi: exactly p
    total_w = (lo_prefix[-1] - lo_prefix[n_lo_le]) + hi_prefix[n_hi_le] + points * between
    j = int(np.searchsorted(total_w, budget_w, side="left"))
    if j == 0:
        level_w = points[0]
    else:
        level_w = points[j - 1] + (budget_w - total_w[j - 1]) / between[j - 1]
        level_w = min(level_w, points[j])
    return np.clip(level_w, lo_w, hi_w)


def _signal(raw: Sequence[Interval], name: str) -> _Signal:
    """A signal's intervals, checked and sorted by start."""
    rows = []
    for start, end, value in raw:
        _require_aware(start, f"{name} start")
        _require_aware(end, f"{name} end")
        if not start < end:
            raise PolicyError(f"{name}: interval starting {start} must end after it")
        if not math.isfinite(value):
            raise PolicyError(f"{name}: value {value} at {start} is not finite")
        rows.append((start.timestamp(), end.timestamp(), float(value)))
    rows.sort()
    table = np.array(rows, dtype=float).reshape(-1, 3)
    signal = _Signal(starts_s=table[:, 0], ends_s=table[:, 1], values=table[:, 2])
    if (signal.starts_s[1:] < signal.ends_s[:-1]).any():
        raise PolicyError(f"{name}: intervals overlap")
    return signal


def _enforce_limit(alloc_w: list[float], plan: _Plan, limit_w: float) -> None:
    """Put the allocations on the 1/1024 W grid and make their exact total fit ``limit_w``.

    Multiples of 1/1024 W (below 2**42 W) add up exactly in any order, so the total a caller
    computes is the one checked here, whatever the order. The policies already plan within the
    limit; float rounding in a water level or a running budget can still leave a total a few
    ulps above it. That excess is taken from the latest arrivals with room above their minimum,
    or, failing that, by dropping the latest arrival still charging.
    """
    for i, a in enumerate(alloc_w):
        if a > 0:  # a >= min_w: the policies never give less
            alloc_w[i] = max(math.floor(a * _GRID_PER_W) / _GRID_PER_W, float(plan.min_w[i]))
        else:
            alloc_w[i] = 0.0
    in_arrival_order = sorted(range(len(alloc_w)), key=lambda i: plan.arrival_rank[i])
    while (total_w := max(math.fsum(alloc_w), sum(alloc_w[i] for i in in_arrival_order))) > limit_w:
        cut_w = max(1.0, math.ceil((total_w - limit_w) * _GRID_PER_W)) / _GRID_PER_W
        for i in reversed(in_arrival_order):
            if alloc_w[i] > 0 and alloc_w[i] - cut_w >= plan.min_w[i]:
                alloc_w[i] -= cut_w
                break
        else:
            i = next(i for i in reversed(in_arrival_order) if alloc_w[i] > 0)
            alloc_w[i] = 0.0
