"""What a session costs in EVCH: the peg, the amount, and the platform's transfer fee.

The operator's specification pegs EVCH "to average kWh value or USDC rate". Both are here:

- ``kwh``: one EVCH (≈ 1 kWh of verified energy) is worth what a kWh cost at the site on
  average over the window before the quote (time-weighted over the published prices), so a
  session charged at average prices costs about its kWh in EVCH, a dear one more, a cheap one
  less;
- ``usd``: one EVCH is worth a fixed USD amount (the USDC rate), in the bill's currency through
  the site's FX table.

Values stay exact fractions until one rounding: the EVCH amount is rounded *up* to the raw unit
so the operator never gets less than the bill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from central_system.errors import Conflict
from central_system.pricing import FxRateNotFound, FxTable, Money, PriceInterval, minor_exponent
from programs.spl.evch_mint import EVCH_DECIMALS
from programs.spl.token2022 import transfer_fee

RAW_PER_EVCH = 10**EVCH_DECIMALS


class NoEvchPrice(Conflict):
    """The session cannot be priced in EVCH (no published prices, no FX rate for the peg)."""

    code = "no_evch_price"


class PegBasis(StrEnum):
    KWH = "kwh"  # the site's average price of a kWh
    USD = "usd"  # a fixed USDC rate


class SettleIn(StrEnum):
    """What the operator is paid for the EVCH it receives."""

    FIAT = "fiat"  # the bill's currency (IRR, AED)
    USDC = "usdc"  # a stablecoin, at the site's USD rate


@dataclass(frozen=True)
class EvchPeg:
    basis: PegBasis = PegBasis.KWH
    usd_per_evch: Decimal | None = None  # the USDC rate, for basis usd
    window: timedelta = timedelta(hours=24)  # the averaging window, for basis kwh
    settle_in: SettleIn = SettleIn.FIAT

    def __post_init__(self) -> None:
        if self.basis is PegBasis.USD and not (self.usd_per_evch and self.usd_per_evch > 0):
            raise ValueError("a USD peg needs usd_per_evch > 0")
        if self.window <= timedelta(0):
            raise ValueError("the averaging window must be positive")


def evch_value_minor(
    peg: EvchPeg, currency: str, prices: list[PriceInterval], fx: FxTable | None
) -> Fraction:
    """What one EVCH is worth, in minor units of ``currency``, exactly."""
    if peg.basis is PegBasis.KWH:
        seconds = sum(p.duration_s for p in prices)
        if not prices or seconds <= 0:
            raise NoEvchPrice(f"no {currency} price was published to peg EVCH to")
        return sum(
            (Fraction(p.price_minor_per_kwh) * Fraction(p.duration_s) for p in prices),
            Fraction(0),
        ) / Fraction(seconds)
    return _usd_rate(fx, currency) * Fraction(peg.usd_per_evch) * 10 ** minor_exponent(currency)


def _usd_rate(fx: FxTable | None, currency: str) -> Fraction:
    if currency == "USD":
        return Fraction(1)
    if fx is None:
        raise NoEvchPrice(f"EVCH is pegged to USD and the site has no FX table for {currency}")
    try:
        return fx.rate("USD", currency)
    except FxRateNotFound as error:
        raise NoEvchPrice(f"EVCH is pegged to USD: {error.message}") from error


@dataclass(frozen=True)
class EvchQuote:
    """A bill in EVCH: the driver sends ``gross_raw``, the fee is withheld, the operator gets
    ``net_raw`` (worth at least the bill at the peg)."""

    bill: Money
    value_minor_per_evch: Fraction
    net_raw: int
    fee_raw: int

    @property
    def gross_raw(self) -> int:
        return self.net_raw + self.fee_raw


def quote(bill: Money, value_minor_per_evch: Fraction, fee_bps: int, max_fee_raw: int) -> EvchQuote:
    if value_minor_per_evch <= 0:
        raise NoEvchPrice(f"EVCH has no positive value in {bill.currency}")
    if bill.amount_minor <= 0:
        raise NoEvchPrice("nothing to pay: the bill is zero")
    if not 0 <= fee_bps < 10_000:
        raise NoEvchPrice(f"a transfer fee of {fee_bps} bps leaves the operator nothing")
    net = math.ceil(Fraction(bill.amount_minor) * RAW_PER_EVCH / value_minor_per_evch)
    gross = gross_for_net(net, fee_bps, max_fee_raw)
    return EvchQuote(bill, value_minor_per_evch, net, gross - net)


def gross_for_net(net_raw: int, fee_bps: int, max_fee_raw: int) -> int:
    """The least amount whose Token-2022 transfer fee leaves at least ``net_raw`` to the
    recipient (the fee is ceil(amount * bps / 10,000), capped)."""
    if net_raw <= 0 or fee_bps == 0:
        return max(net_raw, 0)
    gross = min(net_raw + max_fee_raw, -(-net_raw * 10_000 // (10_000 - fee_bps)))
    while gross - transfer_fee(gross, fee_bps, max_fee_raw) < net_raw:
        gross += 1
    while gross - 1 - transfer_fee(gross - 1, fee_bps, max_fee_raw) >= net_raw:
        gross -= 1
    return gross


def settlement(quote: EvchQuote, settle_in: SettleIn, fx: FxTable | None) -> Money:
    """What the operator is paid for the quote's net EVCH: its value at the peg, in the bill's
    currency or in USD (USDC)."""
    value = Fraction(quote.net_raw) * quote.value_minor_per_evch / RAW_PER_EVCH
    fiat = Money(round(value), quote.bill.currency)
    if settle_in is SettleIn.FIAT:
        return fiat
    if fiat.currency == "USD":
        return fiat
    if fx is None:
        raise NoEvchPrice(f"settling in USDC needs a USD rate for {fiat.currency}")
    return fx.convert(fiat, "USD")
