"""The pricing package's exceptions: one base with a stable code, as the rest of the CSMS."""

from __future__ import annotations

from central_system.errors import CentralSystemError


class PricingError(CentralSystemError):
    """Base of every pricing error (money, FX, tariffs)."""

    code = "pricing_error"


class UnknownCurrency(PricingError):
    """A currency code that is not in :data:`central_system.pricing.money.CURRENCIES`."""

    code = "unknown_currency"


class CurrencyMismatch(PricingError):
    """Two amounts of different currencies were added, subtracted or compared."""

    code = "currency_mismatch"


class FxRateNotFound(PricingError):
    """No direct, inverse or pivot-cross rate links the two currencies."""

    code = "fx_rate_not_found"


class InvalidFxTable(PricingError):
    """A rate table that cannot be used: bad pair, non-positive or inexact rate, duplicates."""

    code = "invalid_fx_table"
