"""How the report writes money, energy, tokens and times, so the summary and the tables agree."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from central_system.pricing import CURRENCIES
from programs.spl.evch_mint import EVCH_DECIMALS

DEFAULT_MINOR_EXPONENT = 2  # a currency the pricing package does not list: ISO's usual cents
NOTHING = "—"


def money_text(amount_minor: int | None, currency: str | None) -> str:
    """``cost_minor`` in major units, with as many decimals as the currency's ISO 4217 exponent."""
    if amount_minor is None:
        return NOTHING
    exponent = CURRENCIES.get(currency or "", DEFAULT_MINOR_EXPONENT)
    major = Decimal(amount_minor).scaleb(-exponent)
    return f"{major:,.{exponent}f} {currency or ''}".rstrip()


def kwh_text(energy_wh: int | None) -> str:
    """Energy in kWh to the Wh, the resolution of the OCPP meter fields."""
    if energy_wh is None:
        return NOTHING
    return f"{Decimal(energy_wh).scaleb(-3):,.3f}"


def evch_text(amount_raw: int | None) -> str:
    """A raw token amount (10^-6 EVCH) in EVCH, every decimal shown: nothing is rounded away."""
    if amount_raw is None:
        return NOTHING
    return f"{Decimal(amount_raw).scaleb(-EVCH_DECIMALS):,.{EVCH_DECIMALS}f}"


def evch(amount_raw: int) -> float:
    """A raw token amount in EVCH, for charts."""
    return amount_raw / 10**EVCH_DECIMALS


def share_text(part: int, whole: int) -> str:
    """ "39 of 42 (92.9 %)"; never 100.0 % while one is missing, nor 0.0 % when one is there."""
    if whole == 0:
        return "0 of 0"
    percent = round(100 * part / whole, 1)
    if part < whole:
        percent = min(percent, 99.9)
    if part > 0:
        percent = max(percent, 0.1)
    return f"{part:,} of {whole:,} ({percent:.1f} %)"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def time_text(moment: datetime | None) -> str:
    """A moment in UTC to the second (naive datetimes are taken as UTC already)."""
    if moment is None:
        return NOTHING
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def abbreviated(text: str, keep: int = 8) -> str:
    """The head and tail of a long hex string: enough to match it by eye against the full one."""
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"
