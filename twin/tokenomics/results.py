"""What a tokenomics run gives: every metric per day, point and path, and its P10/P50/P90 bands."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from twin.tokenomics.params import DAYS_PER_YEAR, TokenomicsParams
from twin.tokenomics.schedules import Schedules

# name -> (label, unit); the order is the order of tables and charts.
METRICS: dict[str, tuple[str, str]] = {
    "supply_evch": ("total supply", "EVCH"),
    "circulating_evch": ("circulating", "EVCH"),
    "staked_evch": ("staked", "EVCH"),
    "burned_evch": ("burned (cumulative)", "EVCH"),
    "vested_evch": ("vested to holders", "EVCH"),
    "minted_evch": ("minted by energy", "EVCH"),
    "rewards_left_evch": ("rewards pool left", "EVCH"),
    "fees_evch": ("platform fees (cumulative)", "EVCH"),
    "treasury_evch": ("treasury", "EVCH"),
    "treasury_usdc": ("treasury", "USDC"),
    "pool_evch": ("pool", "EVCH"),
    "pool_usdc": ("pool", "USDC"),
    "price_usd": ("price", "USD"),
    "inflation": ("inflation (annualised)", "per year"),
    "sessions": ("sessions per day", "sessions"),
    "energy_kwh": ("energy per day", "kWh"),
}
# What the engine keeps per day, point and path; every other metric is derived from these.
STORED = (
    "sessions",
    "circulating_evch",  # held by drivers, operators, vested holders and traders
    "rewards_minted_evch",
    "operators_minted_evch",
    "burned_evch",
    "staked_evch",
    "fees_evch",
    "treasury_evch",
    "treasury_usdc",
    "pool_evch",
    "pool_usdc",
)
QUANTILES = (10, 50, 90)
# The rewards pool counts as dry when less than this share of it is left.
DRY_TOLERANCE = 1e-6
INFLATION_WINDOW_DAYS = 30


class SimulationResult:
    """Every metric of :data:`METRICS` per day, point and path.

    Paths are kept as float32 (7 significant digits, half the memory of float64: 1,000 paths of
    10 years is 15 MB a metric); the engine itself computes in float64.
    """

    def __init__(
        self, points: list[TokenomicsParams], stored: dict[str, np.ndarray], schedule: Schedules
    ) -> None:
        self.points = points
        self._stored = stored
        self._schedule = schedule
        self._derived: dict[str, np.ndarray] = {}

    @property
    def days(self) -> int:
        return self._stored["sessions"].shape[0]

    @property
    def paths(self) -> int:
        return self._stored["sessions"].shape[2]

    @property
    def dates(self) -> pd.DatetimeIndex:
        start = date.fromisoformat(self.points[0].simulation.start)
        return pd.date_range(start, periods=self.days, freq="D")

    def metric(self, name: str) -> np.ndarray:
        """(days, points, paths) of one metric."""
        if name in self._stored:
            return self._stored[name]
        if name not in self._derived:
            if name not in METRICS:
                raise KeyError(f"no metric {name!r}; there are {', '.join(METRICS)}")
            self._derived[name] = self._derive(name)
        return self._derived[name]

    def _derive(self, name: str) -> np.ndarray:
        m = self.metric
        schedule = self._schedule
        match name:
            case "energy_kwh":
                per_session = [p.demand.energy_per_session_kwh for p in self.points]
                return m("sessions") * np.array(per_session, dtype=np.float32).reshape(1, -1, 1)
            case "minted_evch":
                return m("rewards_minted_evch") + m("operators_minted_evch")
            case "rewards_left_evch":
                total = schedule.rewards_total.astype(np.float32).reshape(1, -1, 1)
                return total - m("rewards_minted_evch")
            case "vested_evch":
                return np.broadcast_to(schedule.vested.astype(np.float32), m("sessions").shape)
            case "supply_evch":
                return schedule.released.astype(np.float32) + m("minted_evch") - m("burned_evch")
            case "price_usd":
                return m("pool_usdc") / m("pool_evch")
            case "inflation":
                return _inflation(m("supply_evch"))
        raise AssertionError(name)  # every METRICS name is stored or derived above

    def path(self, metric: str, point: int = 0) -> np.ndarray:
        """(days, paths) of one metric at one point."""
        return self.metric(metric)[:, point, :]

    def bands(self, metric: str, point: int = 0) -> pd.DataFrame:
        """P10, P50 and P90 of ``metric`` over the paths, by date."""
        values = quantiles(self.path(metric, point))
        return pd.DataFrame(
            {f"p{q}": row for q, row in zip(QUANTILES, values, strict=True)}, index=self.dates
        )

    def dry_days(self, point: int = 0) -> np.ndarray:
        """Per path, the day the rewards pool runs dry (NaN when it lasts the horizon)."""
        left = self.path("rewards_left_evch", point)
        dry = left <= self._schedule.rewards_total[point] * DRY_TOLERANCE
        first = dry.argmax(axis=0).astype(float)
        first[~dry.any(axis=0)] = np.nan
        return first

    def dry_date(self, point: int = 0, quantile: int = 50) -> date | None:
        """The date the rewards pool runs dry at the given quantile of paths (None: not within
        the horizon)."""
        days = np.sort(self.dry_days(point))  # NaN (never dry) sorts last
        index = max(int(np.ceil(quantile / 100 * len(days))) - 1, 0)
        if np.isnan(days[index]):
            return None
        return self.dates[0].date() + timedelta(days=int(days[index]))

    def summary(self, point: int = 0) -> pd.DataFrame:
        """The last day's P10/P50/P90 of every metric, one row per metric."""
        last = {name: np.percentile(self.metric(name)[-1, point], QUANTILES) for name in METRICS}
        frame = pd.DataFrame.from_dict(last, orient="index", columns=[f"p{q}" for q in QUANTILES])
        frame.insert(0, "unit", [METRICS[name][1] for name in frame.index])
        frame.insert(0, "metric", [METRICS[name][0] for name in frame.index])
        return frame


def _inflation(supply: np.ndarray) -> np.ndarray:
    """Annualised growth of the supply over the trailing 30 days (since launch before that)."""
    window = INFLATION_WINDOW_DAYS
    before = np.empty_like(supply)
    before[:window] = supply[0]
    before[window:] = supply[:-window]
    span = np.maximum(np.minimum(np.arange(supply.shape[0]), window), 1)
    per_year = (DAYS_PER_YEAR / span).astype(np.float32).reshape(-1, 1, 1)
    growth = supply - before
    growth /= np.maximum(before, np.float32(1e-9))
    growth *= per_year
    return growth


def key_figures(result: SimulationResult, point: int = 0) -> dict[str, object]:
    """The figures an analyst compares parameter sets by, at the end of the horizon (P50 unless
    named), and how well the peg held (share of days x paths within the band)."""
    params = result.points[point]
    last = {name: float(np.median(result.metric(name)[-1, point])) for name in KEY_METRICS}
    price = result.path("price_usd", point)
    peg = params.demand.kwh_price_usd / params.minting.evch_per_kwh
    within = np.abs(price / np.float32(peg) - 1) <= params.peg.band * (1 + 1e-3) + 1e-6
    dry = result.dry_days(point)
    return {
        **last,
        "price_p10_usd": float(np.percentile(price[-1], 10)),
        "price_p90_usd": float(np.percentile(price[-1], 90)),
        "peg_held_share": float(within.mean()),
        "rewards_dry_share": float(np.mean(~np.isnan(dry))),
        "rewards_dry_p50": result.dry_date(point, 50),
    }


KEY_METRICS = (
    "price_usd",
    "supply_evch",
    "circulating_evch",
    "staked_evch",
    "burned_evch",
    "rewards_left_evch",
    "treasury_usdc",
    "inflation",
)


def quantiles(paths: np.ndarray) -> np.ndarray:
    """P10, P50, P90 over the last axis, interpolated as np.percentile does: (3, ...).

    Sorting once is an order of magnitude faster than np.percentile on float32 paths (numpy
    sorts them with SIMD), which is what keeps bands of 16 metrics interactive."""
    ordered = np.sort(paths, axis=-1)
    n = ordered.shape[-1]
    position = np.array(QUANTILES) / 100 * (n - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n - 1)
    weight = (position - low).astype(ordered.dtype)
    values = ordered[..., low] * (1 - weight) + ordered[..., high] * weight
    return np.moveaxis(values, -1, 0)
