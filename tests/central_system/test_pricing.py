"""Pricing: money, FX, tariff components, published intervals and priced energy.

Expected values are computed by hand in the comments; none comes from the code under test.
"""

from __future__ import annotations

import dataclasses
import doctest
import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydantic import ValidationError

import central_system.pricing.config
import central_system.pricing.money
from central_system.pricing import (
    COMPONENTS,
    CurrencyMismatch,
    FxConfig,
    FxRateNotFound,
    FxTable,
    InvalidFxTable,
    Money,
    PriceInterval,
    PricingEngine,
    PricingError,
    SurchargeStep,
    TariffConfig,
    UnknownCurrency,
    apportion,
    base_price_minor_per_kwh,
    energy_by_interval_wh,
    minor_exponent,
    price_energy,
    round_half_even,
    site_utilisation,
    surcharge_minor_per_kwh,
    wholesale_minor_per_kwh,
)

DUBAI = ZoneInfo("Asia/Dubai")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TEHRAN = ZoneInfo("Asia/Tehran")

DUBAI_BANDS = [
    {"start_hour": 22, "end_hour": 6, "price_minor_per_kwh": 30},
    {"start_hour": 6, "end_hour": 16, "price_minor_per_kwh": 50},
    {"start_hour": 16, "end_hour": 22, "price_minor_per_kwh": 80, "days": "weekday"},
    {"start_hour": 16, "end_hour": 22, "price_minor_per_kwh": 60, "days": "weekend"},
]
STEPS = [
    {"above_utilisation": 0.60, "add_minor_per_kwh": 10},
    {"above_utilisation": 0.85, "add_minor_per_kwh": 25},
]


def dubai_tariff(**overrides: object) -> TariffConfig:
    fields: dict[str, object] = {
        "currency": "AED",
        "time_zone": "Asia/Dubai",
        "bands": DUBAI_BANDS,
        "surcharge": STEPS,
    }
    fields.update(overrides)
    return TariffConfig.model_validate(fields)


def amsterdam_tariff() -> TariffConfig:
    return TariffConfig.model_validate(
        {
            "currency": "EUR",
            "time_zone": "Europe/Amsterdam",
            "bands": [
                {"start_hour": 22, "end_hour": 6, "price_minor_per_kwh": 20},
                {"start_hour": 6, "end_hour": 22, "price_minor_per_kwh": 40},
            ],
        }
    )


class FixedPrice:
    """A wholesale signal with one price everywhere (or None: no price)."""

    def __init__(self, price_per_mwh: Decimal | None, currency: str = "EUR") -> None:
        self.price_per_mwh = price_per_mwh
        self.currency = currency

    def at(self, moment: datetime) -> Decimal | None:
        return self.price_per_mwh


# ---------------------------------------------------------------------------------------------
# Money


def test_the_module_examples_run():
    assert doctest.testmod(central_system.pricing.money).failed == 0


def test_iso_exponents_irr_follows_iso_not_practice():
    assert minor_exponent("IRR") == 2
    assert minor_exponent("AED") == 2
    assert minor_exponent("USD") == 2
    assert minor_exponent("EUR") == 2
    assert minor_exponent("JPY") == 0
    assert minor_exponent("KWD") == 3
    with pytest.raises(UnknownCurrency):
        minor_exponent("XYZ")
    assert Money(100, "IRR").major == Decimal("1.00")  # 100 minor units = one rial


@pytest.mark.parametrize(
    ("amount_minor", "quantity", "expected"),
    [
        (1_250, Decimal("0.125"), 156),  # 156.25 -> 156
        (5, Decimal("0.5"), 2),  # 2.5 -> 2 (even)
        (3, Decimal("0.5"), 2),  # 1.5 -> 2 (even)
        (7, Decimal("0.5"), 4),  # 3.5 -> 4 (even)
        (-5, Decimal("0.5"), -2),  # -2.5 -> -2 (even)
        (7, Decimal("0.35"), 2),  # 2.45 -> 2 (not a tie)
        (9, Decimal("0.5"), 4),  # 4.5 -> 4
        (11, Fraction(1, 3), 4),  # 3.666... -> 4
        (100, 3, 300),
    ],
)
def test_multiplication_rounds_half_even_to_the_minor_unit(amount_minor, quantity, expected):
    assert Money(amount_minor, "AED") * quantity == Money(expected, "AED")
    assert quantity * Money(amount_minor, "AED") == Money(expected, "AED")


def test_round_half_even():
    assert [round_half_even(Decimal(x)) for x in ("0.5", "1.5", "2.5", "-0.5", "2.5001")] == [
        0,
        2,
        2,
        0,
        3,
    ]


def test_money_is_integer_immutable_and_refuses_floats():
    price = Money(1_234, "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        price.amount_minor = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        Money(12.34, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(Decimal("12"), "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        price * 1.1
    with pytest.raises(TypeError):
        Money(True, "USD")
    with pytest.raises(UnknownCurrency):
        Money(1, "usd")
    assert str(price) == "12.34 USD"
    assert str(Money(-5, "KWD")) == "-0.005 KWD"
    assert str(Money(7, "JPY")) == "7 JPY"


def test_add_and_subtract_only_the_same_currency():
    assert Money(150, "AED") + Money(250, "AED") == Money(400, "AED")
    assert Money(150, "AED") - Money(250, "AED") == Money(-100, "AED")
    assert Money.total([Money(1, "EUR"), Money(2, "EUR")], "EUR") == Money(3, "EUR")
    assert Money.total([], "EUR") == Money(0, "EUR")
    assert Money(1, "AED") < Money(2, "AED")
    assert Money(1, "AED") != Money(1, "USD")
    with pytest.raises(CurrencyMismatch) as caught:
        Money(1, "AED") + Money(1, "USD")
    assert isinstance(caught.value, PricingError)
    assert caught.value.code == "currency_mismatch"
    with pytest.raises(CurrencyMismatch):
        Money(1, "AED") - Money(1, "IRR")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "AED") < Money(2, "USD")


def test_from_major_is_exact_unless_asked_to_round():
    assert Money.from_major("12.34", "USD") == Money(1_234, "USD")
    assert Money.from_major(Decimal("11450"), "IRR") == Money(1_145_000, "IRR")
    with pytest.raises(ValueError, match="finer than the minor unit"):
        Money.from_major("12.345", "USD")
    assert Money.from_major("12.345", "USD", round_to_minor=True) == Money(1_234, "USD")
    assert Money.from_major("12.355", "USD", round_to_minor=True) == Money(1_236, "USD")


# ---------------------------------------------------------------------------------------------
# FX

RATES = {"AED/IRR": "11450.5", "USD/AED": "3.6725"}


def test_fx_direct_and_inverse():
    fx = FxTable(RATES)
    assert fx.rate("USD", "AED") == Fraction("3.6725")
    assert fx.rate("AED", "USD") == 1 / Fraction("3.6725")
    assert fx.rate("AED", "AED") == 1
    # 100.00 USD x 3.6725 = 367.25 AED
    assert fx.convert(Money(10_000, "USD"), "AED") == Money(36_725, "AED")
    # 367.25 AED / 3.6725 = 100.00 USD exactly: the inverse is exact, not a rounded decimal
    assert fx.convert(Money(36_725, "AED"), "USD") == Money(10_000, "USD")
    # 1 AED = 0.27229... USD -> 27 cents
    assert fx.convert(Money(100, "AED"), "USD") == Money(27, "USD")
    # 1 AED = 11450.5 IRR = 1,145,050 minor units
    assert fx.convert(Money(100, "AED"), "IRR") == Money(1_145_050, "IRR")


def test_fx_cross_through_the_inferred_pivot():
    fx = FxTable(RATES)
    assert fx.pivot == "AED"  # the one currency in every pair
    # 1 USD = 3.6725 x 11450.5 IRR = 42051.96125 IRR -> 4,205,196.125 minor -> 4,205,196
    assert fx.convert(Money(100, "USD"), "IRR") == Money(4_205_196, "IRR")
    # 1,000,000 IRR = 1e6 / 42051.96125 USD = 23.780103... USD -> 2,378 cents
    assert fx.convert(Money(100_000_000, "IRR"), "USD") == Money(2_378, "USD")


def test_fx_explicit_pivot_and_missing_pairs():
    fx = FxTable({"EUR/USD": "1.08", "USD/AED": "3.6725"}, pivot="USD")
    # 1 EUR = 1.08 x 3.6725 = 3.9663 AED
    assert fx.convert(Money(100, "EUR"), "AED") == Money(397, "AED")  # 396.63 -> 397 fils
    assert fx.convert(Money(10_000, "EUR"), "AED") == Money(39_663, "AED")
    unlinked = FxTable({"EUR/USD": "1.08", "AED/IRR": "11450.5"})
    assert unlinked.pivot is None
    with pytest.raises(FxRateNotFound, match="EUR/IRR"):
        unlinked.convert(Money(100, "EUR"), "IRR")
    with pytest.raises(FxRateNotFound):
        FxTable({}).rate("EUR", "USD")


def test_fx_rounds_half_even_across_exponents():
    fx = FxTable({"EUR/USD": "1.005", "USD/JPY": "150.255", "KWD/USD": "3.25"}, pivot="USD")
    assert fx.convert(Money(100, "EUR"), "USD") == Money(100, "USD")  # 100.5 -> 100
    assert fx.convert(Money(300, "EUR"), "USD") == Money(302, "USD")  # 301.5 -> 302
    assert fx.convert(Money(50, "EUR"), "USD") == Money(50, "USD")  # 50.25 -> 50
    assert fx.convert(Money(100, "USD"), "JPY") == Money(150, "JPY")  # 150.255 -> 150
    assert fx.convert(Money(200, "USD"), "JPY") == Money(301, "JPY")  # 300.51 -> 301
    assert fx.convert(Money(1_000, "KWD"), "USD") == Money(325, "USD")  # 1 KWD = 3.25 USD


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"USD/AED": 3.6725}, "float"),
        ({"USD/AED": "0"}, "positive"),
        ({"USD/AED": "-1"}, "positive"),
        ({"USD/AED": "abc"}, "not a decimal"),
        ({"USDAED": "3.6"}, "BASE/QUOTE"),
        ({"USD/XXX": "3.6"}, "unknown currency"),
        ({"USD/USD": "1"}, "itself"),
        ({"USD/AED": "3.6725", "AED/USD": "0.2723"}, "twice"),
    ],
)
def test_bad_fx_tables_are_refused(rates, message):
    with pytest.raises(InvalidFxTable, match=message):
        FxTable(rates)


def test_fx_config_from_toml():
    text = """
    [fx]
    rates = { "AED/IRR" = "11450.5", "USD/AED" = 3.6725 }
    """
    config = FxConfig.model_validate(tomllib.loads(text)["fx"])
    assert config.rates["USD/AED"] == Decimal("3.6725")  # the number as written
    assert config.table().convert(Money(100, "USD"), "IRR") == Money(4_205_196, "IRR")
    with pytest.raises(ValidationError, match="BASE/QUOTE"):
        FxConfig.model_validate({"rates": {"USD-AED": "3"}})


# ---------------------------------------------------------------------------------------------
# Tariff configuration


def test_the_documented_tariff_example_validates():
    text = (central_system.pricing.config.__doc__ or "").split("::", 1)[1]
    text = text.split("Every hour", 1)[0]
    data = tomllib.loads("\n".join(line[4:] for line in text.splitlines()))
    tariff = TariffConfig.model_validate(data["tariff"])
    assert tariff.currency == "AED"
    assert tariff.wholesale_share == Decimal("1.0")
    assert FxConfig.model_validate(data["fx"]).table().pivot == "AED"


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ([{"start_hour": 0, "end_hour": 5, "price_minor_per_kwh": 1}], r"hour\(s\) \[5, 6,"),
        (
            [
                {"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 1},
                {"start_hour": 5, "end_hour": 6, "price_minor_per_kwh": 2},
            ],
            r"hour 5 of a weekday is in bands \[0, 1\]",
        ),
        (
            [{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 1, "days": "weekday"}],
            "of a weekend day",
        ),
        ([{"start_hour": 5, "end_hour": 5, "price_minor_per_kwh": 1}], "ambiguous"),
        ([{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": -1}], "greater than"),
    ],
)
def test_bands_must_cover_every_hour_once(bands, message):
    with pytest.raises(ValidationError, match=message):
        dubai_tariff(bands=bands)


def test_other_tariff_checks():
    with pytest.raises(ValidationError, match="increase strictly"):
        dubai_tariff(surcharge=list(reversed(STEPS)))
    with pytest.raises(ValidationError, match="above cap"):
        dubai_tariff(floor_minor_per_kwh=100, cap_minor_per_kwh=50)
    with pytest.raises(ValidationError, match="unknown currency"):
        dubai_tariff(currency="DIRHAM")
    with pytest.raises(ValidationError, match="unknown time zone"):
        dubai_tariff(time_zone="Dubai")
    with pytest.raises(ValidationError, match="Extra inputs"):
        dubai_tariff(peak_price=3)


# ---------------------------------------------------------------------------------------------
# Components


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2024, 6, 5, 23, 30), 30),  # Wednesday night, before midnight
        (datetime(2024, 6, 6, 3, 0), 30),  # ... and after it
        (datetime(2024, 6, 6, 5, 59), 30),
        (datetime(2024, 6, 6, 6, 0), 50),  # the day band starts on the hour
        (datetime(2024, 6, 6, 16, 0), 80),  # weekday peak
        (datetime(2024, 6, 8, 17, 0), 60),  # Saturday peak
        (datetime(2024, 6, 8, 22, 0), 30),
    ],
)
def test_time_of_use_bands_in_local_time(local, expected):
    moment = local.replace(tzinfo=DUBAI)
    assert base_price_minor_per_kwh(dubai_tariff(), moment) == expected
    assert base_price_minor_per_kwh(dubai_tariff(), moment.astimezone(UTC)) == expected


def test_weekend_is_decided_by_the_moments_own_local_date():
    # Iran: Friday is the weekend. A weekday night band 22 -> 6 does not reach into Friday.
    tariff = TariffConfig.model_validate(
        {
            "currency": "IRR",
            "time_zone": "Asia/Tehran",
            "weekend_days": ["fri"],
            "bands": [
                {"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 200, "days": "weekend"},
                {"start_hour": 22, "end_hour": 6, "price_minor_per_kwh": 100, "days": "weekday"},
                {"start_hour": 6, "end_hour": 22, "price_minor_per_kwh": 300, "days": "weekday"},
            ],
        }
    )
    thursday_night = datetime(2024, 6, 6, 23, 0, tzinfo=TEHRAN)
    assert base_price_minor_per_kwh(tariff, thursday_night) == 100
    assert base_price_minor_per_kwh(tariff, thursday_night + timedelta(hours=2)) == 200  # Fri
    assert base_price_minor_per_kwh(tariff, datetime(2024, 6, 8, 1, 0, tzinfo=TEHRAN)) == 100


def test_bands_follow_daylight_saving_time():
    tariff = amsterdam_tariff()
    # 04:30 UTC is 05:30 CET (night) the day before the change and 06:30 CEST (day) on it
    assert base_price_minor_per_kwh(tariff, datetime(2019, 3, 30, 4, 30, tzinfo=UTC)) == 20
    assert base_price_minor_per_kwh(tariff, datetime(2019, 3, 31, 4, 30, tzinfo=UTC)) == 40
    # and back in autumn: 06:30 CEST on Saturday, 05:30 CET on Sunday
    assert base_price_minor_per_kwh(tariff, datetime(2019, 10, 26, 4, 30, tzinfo=UTC)) == 40
    assert base_price_minor_per_kwh(tariff, datetime(2019, 10, 27, 4, 30, tzinfo=UTC)) == 20


def test_published_intervals_across_the_dst_nights():
    engine = PricingEngine(amsterdam_tariff())
    # Spring: local 00, 01, 03, 04, 05, 06 -> the night lasts five real hours
    spring = engine.price_intervals(
        datetime(2019, 3, 31, 0, 0, tzinfo=AMSTERDAM), datetime(2019, 3, 31, 5, 0, tzinfo=UTC), 3600
    )
    assert [i.price_minor_per_kwh for i in spring] == [20, 20, 20, 20, 20, 40]
    assert spring[0].start == datetime(2019, 3, 30, 23, 0, tzinfo=UTC)
    assert all(i.duration_s == 3600 for i in spring)
    # Autumn: local 00, 01, 02 (CEST), 02 (CET), 03, 04, 05, 06 -> seven night hours
    autumn = engine.price_intervals(
        datetime(2019, 10, 27, 0, 0, tzinfo=AMSTERDAM),
        datetime(2019, 10, 27, 6, 0, tzinfo=UTC),
        3600,
    )
    assert [i.price_minor_per_kwh for i in autumn] == [20] * 7 + [40]


@pytest.mark.parametrize(
    ("utilisation", "expected"),
    [(0.0, 0), (0.6, 0), (0.6001, 10), (0.85, 10), (0.8501, 25), (1.3, 25)],
)
def test_surcharge_thresholds_are_strict_and_not_cumulative(utilisation, expected):
    assert surcharge_minor_per_kwh(dubai_tariff().surcharge, utilisation) == expected


def test_site_utilisation():
    assert site_utilisation(70_000, 100_000) == 0.7
    with pytest.raises(ValueError):
        site_utilisation(1, 0)
    step = SurchargeStep(above_utilisation=0.5, add_minor_per_kwh=7)
    assert surcharge_minor_per_kwh([step], 0.7) == 7


def test_floor_and_cap_bound_the_sum_and_show_as_a_component():
    engine = PricingEngine(dubai_tariff(floor_minor_per_kwh=40, cap_minor_per_kwh=90))
    night = datetime(2024, 6, 5, 23, 0, tzinfo=DUBAI)
    assert engine.components_at(night) == {"base": 30, "surcharge": 0, "wholesale": 0, "bound": 10}
    assert engine.price_at(night) == 40  # raised to the floor
    peak = datetime(2024, 6, 5, 17, 0, tzinfo=DUBAI)
    assert engine.price_at(peak, 0.7) == 90  # 80 + 10 = 90: exactly the cap
    parts = engine.components_at(peak, 0.9)  # 80 + 25 = 105 -> 90
    assert parts == {"base": 80, "surcharge": 25, "wholesale": 0, "bound": -15}
    assert list(parts) == list(COMPONENTS)


def test_wholesale_component_converted_and_shared():
    # 64.98 EUR/MWh x 0.5 = 0.03249 EUR/kWh x 4 AED/EUR = 0.12996 AED = 12.996 fils -> 13
    assert wholesale_minor_per_kwh(Decimal("64.98"), Decimal("0.5"), Fraction(4), "AED") == 13
    # negative prices pass through: -9.02 x 0.5 / 1000 x 4 = -0.01804 AED -> -1.804 fils -> -2
    assert wholesale_minor_per_kwh(Decimal("-9.02"), Decimal("0.5"), Fraction(4), "AED") == -2
    # one rounding, half-even: 25 EUR/MWh = 2.5 cents/kWh -> 2; 35 -> 3.5 -> 4
    assert wholesale_minor_per_kwh(Decimal("25"), Decimal("1"), Fraction(1), "EUR") == 2
    assert wholesale_minor_per_kwh(Decimal("35"), Decimal("1"), Fraction(1), "EUR") == 4


def test_engine_wholesale_component_in_irr_via_cross_rate():
    tariff = TariffConfig.model_validate(
        {
            "currency": "IRR",
            "time_zone": "Asia/Tehran",
            "weekend_days": ["fri"],
            "bands": [{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 1_000_000}],
            "wholesale_share": "0.1",
        }
    )
    fx = FxTable({"AED/IRR": "11450.5", "EUR/AED": "4.0"})  # pivot AED
    engine = PricingEngine(tariff, fx, wholesale=FixedPrice(Decimal("64.98")))
    # 64.98 x 0.1 / 1000 = 0.006498 EUR/kWh x 4 x 11450.5 = 297.621396 IRR -> 29,762.1396 minor
    moment = datetime(2024, 6, 5, 12, 0, tzinfo=TEHRAN)
    assert engine.components_at(moment)["wholesale"] == 29_762
    assert engine.price_at(moment) == 1_029_762
    # no price at that moment, or no signal at all: the component is 0
    assert PricingEngine(tariff, fx, FixedPrice(None)).price_at(moment) == 1_000_000
    assert PricingEngine(tariff, fx).price_at(moment) == 1_000_000
    # a signal the FX table cannot convert is refused up front
    with pytest.raises(FxRateNotFound):
        PricingEngine(tariff, FxTable({"AED/IRR": "11450.5"}), FixedPrice(Decimal("1")))


def test_price_intervals_with_utilisation_function_or_series():
    engine = PricingEngine(dubai_tariff())
    start = datetime(2024, 6, 5, 15, 30, tzinfo=DUBAI)  # Wednesday
    end = datetime(2024, 6, 5, 16, 40, tzinfo=DUBAI)

    def utilisation(moment: datetime) -> float:
        return site_utilisation(90_000 if moment.astimezone(DUBAI).hour >= 16 else 70_000, 100_000)

    intervals = engine.price_intervals(start, end, 900, utilisation)
    # 15:30 day+10, 15:45 day+10, 16:00 peak+25, 16:15 peak+25, 16:30 (cut at 16:40) peak+25
    assert [i.price_minor_per_kwh for i in intervals] == [60, 60, 105, 105, 105]
    assert intervals[-1].duration_s == 600
    assert all(sum(i.components.values()) == i.price_minor_per_kwh for i in intervals)
    assert {i.currency for i in intervals} == {"AED"}
    levels = [0.0, 0.61, 0.0, 0.86, 0.5]
    assert [i.price_minor_per_kwh for i in engine.price_intervals(start, end, 900, levels)] == [
        50,
        60,
        80,
        105,
        80,
    ]
    with pytest.raises(ValueError, match="utilisation values"):
        engine.price_intervals(start, end, 900, [0.5])
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.price_intervals(start.replace(tzinfo=None), end, 900)
    with pytest.raises(ValueError, match="step_s"):
        engine.price_intervals(start, end, 0)


# ---------------------------------------------------------------------------------------------
# Priced energy


def _intervals(prices: list[int], currency: str) -> list[PriceInterval]:
    t0 = datetime(2024, 6, 5, 8, 0, tzinfo=UTC)
    step = timedelta(minutes=15)
    return [
        PriceInterval(t0 + n * step, t0 + (n + 1) * step, price, currency, {"base": price})
        for n, price in enumerate(prices)
    ]


def test_session_total_is_the_sum_of_interval_amounts_to_the_minor_unit():
    intervals = _intervals([33, 33, 45, 77], "AED")
    priced, total = price_energy(intervals, [1_500, 2_500, 100, 1_234])
    # 33 x 1.5 = 49.5 -> 50; 33 x 2.5 = 82.5 -> 82; 45 x 0.1 = 4.5 -> 4; 77 x 1.234 = 95.018 -> 95
    assert [item.amount_minor for item in priced] == [50, 82, 4, 95]
    assert total == Money(231, "AED")  # not round(231.518) = 232
    assert total == Money.total((item.amount for item in priced), "AED")
    assert [item.energy_wh for item in priced] == [1_500, 2_500, 100, 1_234]


def test_irr_session():
    # 25,000 rials/kWh = 2,500,000 minor units; 12.345 kWh -> 308,625 rials exactly
    intervals = _intervals([2_500_000, 2_600_000], "IRR")
    priced, total = price_energy(intervals, [12_345, 1])
    assert [item.amount_minor for item in priced] == [30_862_500, 2_600]
    assert total == Money(30_865_100, "IRR")
    assert str(total) == "308651.00 IRR"


def test_price_energy_refuses_bad_input():
    intervals = _intervals([10, 20], "AED")
    with pytest.raises(ValueError, match="2 intervals but 1"):
        price_energy(intervals, [1])
    with pytest.raises(ValueError, match="negative"):
        price_energy(intervals, [1, -1])
    with pytest.raises(TypeError):
        price_energy(intervals, [1.5, 2])
    with pytest.raises(CurrencyMismatch):
        price_energy(intervals[:1] + _intervals([1], "USD"), [1, 1])
    assert price_energy(intervals, [Decimal("1500.5"), 0])[1] == Money(15, "AED")  # 15.005
    priced, total = price_energy(intervals, np.array([1_500, 250]))  # 15 + 5
    assert total == Money(20, "AED")
    assert type(priced[0].energy_wh) is int
    with pytest.raises(TypeError):
        price_energy(intervals, np.array([1.0, 2.0]))


def test_engine_prices_a_session_end_to_end():
    engine = PricingEngine(dubai_tariff(floor_minor_per_kwh=35))
    start = datetime(2024, 6, 5, 21, 30, tzinfo=DUBAI)
    intervals = engine.price_intervals(start, start + timedelta(hours=1), 900)
    assert [i.price_minor_per_kwh for i in intervals] == [80, 80, 35, 35]  # 30 -> floor 35
    readings = [(start + timedelta(minutes=5), 10_000), (start + timedelta(minutes=55), 20_000)]
    energy = energy_by_interval_wh(intervals, readings)
    # 10 kWh over 50 min at constant power: 10, 15, 15, 10 minutes -> 2000, 3000, 3000, 2000 Wh
    assert energy == [2_000, 3_000, 3_000, 2_000]
    _, total = engine.price_energy(intervals, energy)
    assert total == Money(160 + 240 + 105 + 70, "AED")


def test_meter_readings_split_into_whole_wh_that_add_up():
    intervals = _intervals([1, 1, 1], "EUR")  # 08:00, 08:15, 08:30 .. 08:45
    t0 = intervals[0].start
    readings = [
        (t0 + timedelta(minutes=5), 1_000),
        (t0 + timedelta(minutes=20), 2_000),
        (t0 + timedelta(minutes=40), 4_000),
    ]
    # 1000 Wh over 15 min: 10 min -> 666.67, 5 min -> 333.33; 2000 Wh over 20 min: 10/10
    # exact shares 666.67, 1333.33, 1000 -> largest remainder gives the spare Wh to the first
    assert energy_by_interval_wh(intervals, readings) == [667, 1_333, 1_000]
    with pytest.raises(ValueError, match="do not cover"):
        energy_by_interval_wh(intervals[:2], readings)
    with pytest.raises(ValueError, match="goes down"):
        energy_by_interval_wh(intervals, [(t0, 5), (t0 + timedelta(minutes=1), 4)])
    with pytest.raises(ValueError, match="increasing time"):
        energy_by_interval_wh(intervals, [(t0, 5), (t0, 6)])
    with pytest.raises(TypeError):
        energy_by_interval_wh(intervals, [(t0, 5.0), (t0 + timedelta(minutes=1), 6.5)])


def test_apportion_keeps_the_total_and_breaks_ties_early():
    assert apportion([Fraction(1, 2), Fraction(1, 2), Fraction(1, 2), Fraction(1, 2)], 2) == [
        1,
        1,
        0,
        0,
    ]
    assert apportion([Fraction(10, 3)] * 3, 10) == [4, 3, 3]
