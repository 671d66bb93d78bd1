"""Pricing: money in minor units, FX rates, site tariffs and the prices of delivered energy.

    money.py     Money (integer minor units, ISO 4217 exponents), FxTable (exact rates)
    config.py    TariffConfig, TouBand, SurchargeStep, FxConfig (pydantic, for scenario files)
    tariff.py    the price components as pure functions, PricingEngine, price_energy
    metering.py  meter readings split into whole Wh per price interval

Prices are integers: minor units of the site currency per kWh (``price_minor_per_kwh``).
"""

from central_system.pricing.config import (
    WEEKDAYS,
    FxConfig,
    SurchargeStep,
    TariffConfig,
    TouBand,
)
from central_system.pricing.errors import (
    CurrencyMismatch,
    FxRateNotFound,
    InvalidFxTable,
    PricingError,
    UnknownCurrency,
)
from central_system.pricing.metering import apportion, energy_by_interval_wh
from central_system.pricing.money import (
    CURRENCIES,
    FxTable,
    Money,
    exact,
    fraction_text,
    minor_exponent,
    round_half_even,
)
from central_system.pricing.tariff import (
    COMPONENTS,
    PricedInterval,
    PriceInterval,
    PricingEngine,
    WholesalePriceSignal,
    base_price_minor_per_kwh,
    bounded,
    interval_amount_minor,
    price_energy,
    site_utilisation,
    surcharge_minor_per_kwh,
    wholesale_minor_per_kwh,
)

__all__ = [
    "COMPONENTS",
    "CURRENCIES",
    "WEEKDAYS",
    "CurrencyMismatch",
    "FxConfig",
    "FxRateNotFound",
    "FxTable",
    "InvalidFxTable",
    "Money",
    "PriceInterval",
    "PricedInterval",
    "PricingEngine",
    "PricingError",
    "SurchargeStep",
    "TariffConfig",
    "TouBand",
    "UnknownCurrency",
    "WholesalePriceSignal",
    "apportion",
    "base_price_minor_per_kwh",
    "bounded",
    "energy_by_interval_wh",
    "exact",
    "fraction_text",
    "interval_amount_minor",
    "minor_exponent",
    "price_energy",
    "round_half_even",
    "site_utilisation",
    "surcharge_minor_per_kwh",
    "wholesale_minor_per_kwh",
]
