"""Tariff and FX configuration: pydantic models a scenario file or the settings can embed.

A site tariff in TOML (prices in minor units of ``currency`` per kWh; IRR minor units are
ISO 4217 hundredths of a rial, see :mod:`central_system.pricing.money`)::

    [tariff]
    currency = "AED"
    time_zone = "Asia/Dubai"
    weekend_days = ["sat", "sun"]
    floor_minor_per_kwh = 20
    cap_minor_per_kwh = 150
    wholesale_share = "1.0"          # the day-ahead price, converted, passed through 1:1
    bands = [
      { start_hour = 22, end_hour = 6, price_minor_per_kwh = 30 },    # across midnight
      { start_hour = 6, end_hour = 16, price_minor_per_kwh = 50 },
      { start_hour = 16, end_hour = 22, price_minor_per_kwh = 80, days = "weekday" },
      { start_hour = 16, end_hour = 22, price_minor_per_kwh = 60, days = "weekend" },
    ]
    surcharge = [
      { above_utilisation = 0.60, add_minor_per_kwh = 10 },
      { above_utilisation = 0.85, add_minor_per_kwh = 25 },
    ]

    [fx]
    rates = { "AED/IRR" = "11450.5", "USD/AED" = "3.6725", "EUR/AED" = "4.0" }
    # pivot = "AED"    # optional: inferred when one currency appears in every pair

Every hour of a weekday and of a weekend day must be covered by exactly one band.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from central_system.clock import zone_key
from central_system.pricing.errors import PricingError
from central_system.pricing.money import CURRENCIES, FxTable

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in ``datetime.weekday()`` order (Monday = 0)."""

DayKind = Literal["all", "weekday", "weekend"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TouBand(_Model):
    """A time-of-use band: local hours ``[start_hour, end_hour)``, wrapping past midnight when
    ``end_hour < start_hour`` (22 -> 6 is 22:00..06:00), on all days, weekdays or weekends.

    Whether a moment falls on a weekday or a weekend is decided by its own local date: a
    weekday band 22 -> 6 covers Friday 22:00..24:00 but not Saturday 00:00..06:00.
    """

    start_hour: Annotated[int, Field(ge=0, le=23)]
    end_hour: Annotated[int, Field(ge=1, le=24)]
    price_minor_per_kwh: Annotated[int, Field(ge=0)]
    days: DayKind = "all"

    @model_validator(mode="after")
    def _not_empty(self) -> TouBand:
        if self.start_hour == self.end_hour:
            raise ValueError(
                f"band {self.start_hour}..{self.end_hour} is ambiguous: write 0..24 for a whole day"
            )
        return self

    def hours(self) -> tuple[int, ...]:
        """The local hours of day (0..23) the band covers."""
        if self.start_hour < self.end_hour:
            return tuple(range(self.start_hour, self.end_hour))
        return tuple(range(self.start_hour, 24)) + tuple(range(0, self.end_hour))

    def applies_to(self, weekend: bool) -> bool:
        return self.days == "all" or self.days == ("weekend" if weekend else "weekday")


class SurchargeStep(_Model):
    """Above this site utilisation (site power / grid limit, a fraction), add this much."""

    above_utilisation: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    add_minor_per_kwh: Annotated[int, Field(ge=0)]


class TariffConfig(_Model):
    """A site tariff: time-of-use base + load surcharge + wholesale share, within floor/cap.

    The surcharge steps are not cumulative: the step with the highest threshold that the
    utilisation strictly exceeds applies (0.85 exceeded -> that step's amount alone).
    """

    currency: str
    time_zone: Annotated[str, AfterValidator(zone_key)]
    bands: Annotated[tuple[TouBand, ...], Field(min_length=1)]
    weekend_days: tuple[Weekday, ...] = ("sat", "sun")
    surcharge: tuple[SurchargeStep, ...] = ()
    wholesale_share: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    floor_minor_per_kwh: int | None = None
    cap_minor_per_kwh: int | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if code not in CURRENCIES:
            raise ValueError(f"unknown currency {code!r} (known: {', '.join(sorted(CURRENCIES))})")
        return code

    @model_validator(mode="after")
    def _consistent(self) -> TariffConfig:
        problems: list[str] = []
        for weekend, label in ((False, "weekday"), (True, "weekend day")):
            owners: dict[int, list[int]] = {hour: [] for hour in range(24)}
            for index, band in enumerate(self.bands):
                if band.applies_to(weekend):
                    for hour in band.hours():
                        owners[hour].append(index)
            missing = [hour for hour, found in owners.items() if not found]
            twice = {hour: found for hour, found in owners.items() if len(found) > 1}
            if missing:
                problems.append(f"no band covers hour(s) {missing} of a {label}")
            for hour, found in twice.items():
                problems.append(f"hour {hour} of a {label} is in bands {found}")
        thresholds = [step.above_utilisation for step in self.surcharge]
        if any(b <= a for a, b in pairwise(thresholds)):
            problems.append(f"surcharge thresholds must increase strictly, got {thresholds}")
        if len(set(self.weekend_days)) != len(self.weekend_days):
            problems.append(f"weekend_days repeats a day: {list(self.weekend_days)}")
        floor, cap = self.floor_minor_per_kwh, self.cap_minor_per_kwh
        if floor is not None and cap is not None and floor > cap:
            problems.append(f"floor_minor_per_kwh {floor} is above cap_minor_per_kwh {cap}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def is_weekend(self, weekday: int) -> bool:
        """Whether ``datetime.weekday()`` number ``weekday`` is a weekend day of this tariff."""
        return WEEKDAYS[weekday] in self.weekend_days


class FxConfig(_Model):
    """``[fx]``: rates ``"BASE/QUOTE" -> QUOTE per BASE`` (major units) and an optional pivot.

    Write rates as strings (``"11450.5"``) or TOML numbers; numbers are read as the decimal
    they are written as (up to 15 significant digits).
    """

    rates: dict[str, Decimal]
    pivot: str | None = None

    def table(self) -> FxTable:
        return FxTable(self.rates, pivot=self.pivot)

    @model_validator(mode="after")
    def _valid_table(self) -> FxConfig:
        try:
            self.table()
        except PricingError as error:
            raise ValueError(error.message) from None
        return self
