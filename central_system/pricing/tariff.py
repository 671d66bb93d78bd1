"""Dynamic site prices: time-of-use base + load surcharge + wholesale share, within floor/cap.

    >>> engine = PricingEngine(tariff, fx, wholesale=day_ahead)            # doctest: +SKIP
    >>> intervals = engine.price_intervals(start, end, 900, utilisation)   # doctest: +SKIP
    >>> priced, total = price_energy(intervals, [1_200, 2_500, 0, 800])    # doctest: +SKIP

A price is an integer number of minor units of the site currency per kWh. Each component is an
integer; the published price is their sum, bounded by the floor and the cap, and the bound's
adjustment is recorded as a component too, so the components always add up to the price.
An amount is ``price_minor_per_kwh * energy_wh / 1000`` rounded half-even once per interval; a
total is the exact sum of its intervals' amounts.

Each interval is priced at its start instant: choose ``step_s`` so that intervals do not
straddle a band edge or a wholesale price hour (900 s does, for local offsets in quarter hours).
The FX rates are those of the table given: a time-varying rate is not modelled.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Protocol
from zoneinfo import ZoneInfo

from central_system.pricing.config import SurchargeStep, TariffConfig
from central_system.pricing.errors import CurrencyMismatch
from central_system.pricing.money import FxTable, Money, exact, minor_exponent

COMPONENTS = ("base", "surcharge", "wholesale", "bound")
"""The keys of :attr:`PriceInterval.components`, in order; they sum to the price."""


class WholesalePriceSignal(Protocol):
    """A grid price: ``at(moment)`` is the price per MWh in major units of ``currency``
    (e.g. EUR/MWh), or None when there is none. Implemented by the twin's day-ahead prices."""

    currency: str

    def at(self, moment: datetime) -> Decimal | None: ...


Utilisation = Callable[[datetime], float] | Sequence[float] | None
"""Site power / grid limit: a function of time, one value per interval, or None (0)."""


# ---------------------------------------------------------------------------------------------
# The components, as pure functions


def base_price_minor_per_kwh(tariff: TariffConfig, moment: datetime) -> int:
    """The time-of-use price of the band holding ``moment``'s local hour (in the tariff zone).

    Daylight saving time follows the zone: on the spring-forward day the skipped hour has no
    moment; on the fall-back day the repeated hour is priced twice by the same band.
    """
    local = _aware(moment, "moment").astimezone(ZoneInfo(tariff.time_zone))
    weekend = tariff.is_weekend(local.weekday())
    for band in tariff.bands:
        if band.applies_to(weekend) and local.hour in band.hours():
            return band.price_minor_per_kwh
    raise AssertionError("TariffConfig guarantees that every hour has a band")  # pragma: no cover


def surcharge_minor_per_kwh(steps: Sequence[SurchargeStep], utilisation: float) -> int:
    """The add-on of the highest step whose threshold ``utilisation`` strictly exceeds."""
    add = 0
    for step in steps:
        if utilisation > step.above_utilisation:
            add = step.add_minor_per_kwh
    return add


def wholesale_minor_per_kwh(
    price_per_mwh: Decimal, share: Decimal, rate: Fraction, currency: str
) -> int:
    """``share`` of a wholesale price per MWh (major units of the signal's currency), in minor
    units of ``currency`` per kWh, given ``rate`` = ``currency`` per signal currency unit.
    Negative wholesale prices give a negative component. Rounded half-even once."""
    per_kwh_major = exact(price_per_mwh) * exact(share) * rate / 1000
    return round(per_kwh_major * 10 ** minor_exponent(currency))


def bounded(price_minor_per_kwh: int, floor: int | None, cap: int | None) -> int:
    """The price raised to the floor and lowered to the cap (either may be None)."""
    if floor is not None and price_minor_per_kwh < floor:
        return floor
    if cap is not None and price_minor_per_kwh > cap:
        return cap
    return price_minor_per_kwh


# ---------------------------------------------------------------------------------------------
# Published intervals and priced energy


@dataclass(frozen=True)
class PriceInterval:
    """The price over ``[start, end)`` (UTC); ``components`` (see :data:`COMPONENTS`) sum to it."""

    start: datetime
    end: datetime
    price_minor_per_kwh: int
    currency: str
    components: dict[str, int] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class PricedInterval:
    """An interval's price applied to the energy delivered in it."""

    start: datetime
    end: datetime
    price_minor_per_kwh: int
    currency: str
    energy_wh: int | Decimal
    amount_minor: int

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


def interval_amount_minor(price_minor_per_kwh: int, energy_wh: int | Decimal) -> int:
    """``price * energy_wh / 1000``, rounded half-even to the minor unit."""
    return round(exact(price_minor_per_kwh) * exact(energy_wh) / 1000)


def price_energy(
    intervals: Sequence[PriceInterval], energy_by_interval_wh: Sequence[int | Decimal]
) -> tuple[list[PricedInterval], Money]:
    """Each interval's energy (Wh, one value per interval) at its price, and their total.

    Every amount is rounded once (half-even); the total is the exact sum of the amounts.
    """
    if len(intervals) != len(energy_by_interval_wh):
        raise ValueError(
            f"{len(intervals)} intervals but {len(energy_by_interval_wh)} energy values"
        )
    if not intervals:
        raise ValueError("no intervals to price (the currency of an empty total is unknown)")
    currency = intervals[0].currency
    priced: list[PricedInterval] = []
    for interval, energy_wh in zip(intervals, energy_by_interval_wh, strict=True):
        if interval.currency != currency:
            raise CurrencyMismatch(
                f"intervals in {currency} and {interval.currency}",
                left=currency,
                right=interval.currency,
            )
        if exact(energy_wh) < 0:
            raise ValueError(f"negative energy {energy_wh} Wh in the interval at {interval.start}")
        if not isinstance(energy_wh, Decimal):
            energy_wh = operator.index(energy_wh)  # a plain int, also from numpy
        priced.append(
            PricedInterval(
                start=interval.start,
                end=interval.end,
                price_minor_per_kwh=interval.price_minor_per_kwh,
                currency=currency,
                energy_wh=energy_wh,
                amount_minor=interval_amount_minor(interval.price_minor_per_kwh, energy_wh),
            )
        )
    return priced, Money(sum(item.amount_minor for item in priced), currency)


class PricingEngine:
    """Prices of one site: its tariff, FX rates, and optionally a wholesale price signal.

    The wholesale component is 0 without a signal (or with ``wholesale_share = 0``). When the
    signal's currency is not the site's, ``fx`` must convert it: checked here, not mid-run.
    """

    def __init__(
        self,
        tariff: TariffConfig,
        fx: FxTable | None = None,
        wholesale: WholesalePriceSignal | None = None,
    ) -> None:
        self.tariff = tariff
        self.fx = fx if fx is not None else FxTable({})
        self.wholesale = wholesale if tariff.wholesale_share > 0 else None
        self._rate = Fraction(1)
        if self.wholesale is not None:
            self._rate = self.fx.rate(self.wholesale.currency, tariff.currency)

    def components_at(self, moment: datetime, utilisation: float = 0.0) -> dict[str, int]:
        """The price components at ``moment`` for a site ``utilisation`` (see COMPONENTS)."""
        tariff = self.tariff
        parts = {
            "base": base_price_minor_per_kwh(tariff, moment),
            "surcharge": surcharge_minor_per_kwh(tariff.surcharge, utilisation),
            "wholesale": 0,
        }
        if self.wholesale is not None:
            price_per_mwh = self.wholesale.at(moment)
            if price_per_mwh is not None:
                parts["wholesale"] = wholesale_minor_per_kwh(
                    price_per_mwh, tariff.wholesale_share, self._rate, tariff.currency
                )
        unbounded = sum(parts.values())
        price = bounded(unbounded, tariff.floor_minor_per_kwh, tariff.cap_minor_per_kwh)
        parts["bound"] = price - unbounded
        return parts

    def price_at(self, moment: datetime, utilisation: float = 0.0) -> int:
        """The price in minor units per kWh at ``moment``."""
        return sum(self.components_at(moment, utilisation).values())

    def price_intervals(
        self, start: datetime, end: datetime, step_s: int, utilisation: Utilisation = None
    ) -> list[PriceInterval]:
        """Intervals of ``step_s`` seconds from ``start`` (the last one cut at ``end``), in UTC,
        each priced at its start. ``utilisation`` is a function of time, one value per interval,
        or None for an idle site."""
        _aware(start, "start")
        _aware(end, "end")
        if isinstance(step_s, bool) or not isinstance(step_s, int) or step_s <= 0:
            raise ValueError(f"step_s must be a positive integer, got {step_s!r}")
        if end <= start:
            raise ValueError(f"end {end.isoformat()} is not after start {start.isoformat()}")
        # Arithmetic in UTC: Python adds timedeltas to zoned datetimes in wall-clock time.
        first, last, step = start.astimezone(UTC), end.astimezone(UTC), timedelta(seconds=step_s)
        starts: list[datetime] = []
        while first + len(starts) * step < last:
            starts.append(first + len(starts) * step)
        levels = _utilisation_levels(utilisation, starts)
        intervals = []
        for begin, level in zip(starts, levels, strict=True):
            parts = self.components_at(begin, level)
            intervals.append(
                PriceInterval(
                    begin, min(begin + step, last), sum(parts.values()), self.tariff.currency, parts
                )
            )
        return intervals

    def price_energy(
        self, intervals: Sequence[PriceInterval], energy_by_interval_wh: Sequence[int | Decimal]
    ) -> tuple[list[PricedInterval], Money]:
        """See :func:`price_energy`."""
        return price_energy(intervals, energy_by_interval_wh)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment


def _utilisation_levels(utilisation: Utilisation, starts: list[datetime]) -> list[float]:
    if utilisation is None:
        return [0.0] * len(starts)
    if callable(utilisation):
        return [float(utilisation(moment)) for moment in starts]
    levels = [float(level) for level in utilisation]
    if len(levels) != len(starts):
        raise ValueError(f"{len(starts)} intervals but {len(levels)} utilisation values")
    return levels


def site_utilisation(site_power_w: float, grid_limit_w: float) -> float:
    """Site power as a fraction of its grid limit (may exceed 1 when the limit is broken)."""
    if grid_limit_w <= 0:
        raise ValueError(f"grid limit must be positive, got {grid_limit_w} W")
    return site_power_w / grid_limit_w
