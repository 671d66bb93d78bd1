"""Money as integers in minor units, and exchange rates that never pass through floats.

    >>> from decimal import Decimal
    >>> price = Money(1_250, "AED")              # 12.50 AED
    >>> str(price * Decimal("0.125"))            # 156.25 fils, rounded half-even to 156
    '1.56 AED'
    >>> fx = FxTable({"AED/IRR": "11450.5", "USD/AED": "3.6725"})
    >>> str(fx.convert(Money(100, "USD"), "IRR"))  # 3.6725 x 11450.5 = 42051.96125 IRR
    '42051.96 IRR'

Exponents are the ISO 4217 minor units. The Iranian rial's ISO exponent is 2, although rials
are used without decimals in practice (and prices are often quoted in tomans, 10 rials): we
follow ISO, so ``Money(100, "IRR")`` is one rial. Amounts that must be whole rials are a
rounding policy of whoever publishes them, not a property of the currency.

Every product is computed exactly (:class:`fractions.Fraction`) and rounded once, half to even
("banker's rounding"), to the minor unit.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from central_system.pricing.errors import (
    CurrencyMismatch,
    FxRateNotFound,
    InvalidFxTable,
    UnknownCurrency,
)

CURRENCIES: Mapping[str, int] = {
    "AED": 2,  # UAE dirham: 100 fils
    "BHD": 3,
    "EUR": 2,
    "GBP": 2,
    "IRR": 2,  # ISO 4217 says 2 (dinars); in practice rials have no decimals: see above
    "JPY": 0,
    "KWD": 3,
    "OMR": 3,
    "SAR": 2,
    "USD": 2,
}
"""ISO 4217 code -> minor-unit exponent (number of decimals)."""

Quantity = int | Decimal | Fraction
"""An exact multiplier: never a float."""


def minor_exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent of ``currency``; UnknownCurrency if not listed."""
    try:
        return CURRENCIES[currency]
    except (KeyError, TypeError):
        raise UnknownCurrency(
            f"unknown currency {currency!r} (known: {', '.join(sorted(CURRENCIES))})",
            currency=currency,
        ) from None


def exact(value: Quantity) -> Fraction:
    """``value`` as an exact fraction; TypeError for floats and bools, ValueError for NaN/inf."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | Fraction):
        try:
            return Fraction(operator.index(value))  # numpy integers
        except TypeError:
            raise TypeError(
                f"expected an int, Decimal or Fraction, got {type(value).__name__} {value!r}"
                " (floats are not exact: use Decimal('...'))"
            ) from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return Fraction(value)


def fraction_text(value: Fraction) -> str:
    """An exact value as ``"numerator/denominator"`` (``Fraction(text)`` reads it back)."""
    return f"{value.numerator}/{value.denominator}"


def round_half_even(value: Quantity) -> int:
    """``value`` rounded to an integer, ties to the even neighbour (2.5 -> 2, 3.5 -> 4)."""
    return round(exact(value))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in the minor unit of an ISO 4217 currency (cents, fils, ...). Immutable."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        minor_exponent(self.currency)
        amount = self.amount_minor
        if isinstance(amount, bool):
            raise TypeError("amount_minor must be an integer, got a bool")
        try:
            integer = operator.index(amount)  # int, numpy integers; not float or Decimal
        except TypeError:
            raise TypeError(
                f"amount_minor must be an integer number of minor units, "
                f"got {type(amount).__name__} {amount!r}"
            ) from None
        if type(amount) is not int:
            object.__setattr__(self, "amount_minor", int(integer))

    # -- construction and views --------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_major(
        cls, amount_major: Quantity | str, currency: str, *, round_to_minor: bool = False
    ) -> Money:
        """Money from an amount in major units, e.g. ``Money.from_major("12.34", "USD")``.

        An amount finer than the minor unit is refused unless ``round_to_minor`` (half-even).
        """
        if isinstance(amount_major, str):
            try:
                amount_major = Decimal(amount_major)
            except InvalidOperation:
                raise ValueError(f"not a decimal number: {amount_major!r}") from None
        minor = exact(amount_major) * 10 ** minor_exponent(currency)
        if minor.denominator != 1 and not round_to_minor:
            raise ValueError(
                f"{amount_major} {currency} is finer than the minor unit "
                f"(10^-{minor_exponent(currency)}); pass round_to_minor=True to round half-even"
            )
        return cls(round(minor), currency)

    @property
    def major(self) -> Decimal:
        """The amount in major units, exact (``Money(1234, "USD").major == Decimal("12.34")``)."""
        return Decimal(self.amount_minor).scaleb(-minor_exponent(self.currency))

    def __str__(self) -> str:
        return f"{self.major} {self.currency}"

    @staticmethod
    def total(amounts: Iterable[Money], currency: str) -> Money:
        """The exact sum of ``amounts``, all in ``currency`` (zero when empty)."""
        result = Money.zero(currency)
        for amount in amounts:
            result = result + amount
        return result

    # -- arithmetic ---------------------------------------------------------------------------

    def _same(self, other: Money, operation: str) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(
                f"cannot {operation} {self.currency} and {other.currency}: convert first",
                left=self.currency,
                right=other.currency,
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other, "add")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other, "subtract")
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __mul__(self, quantity: Any) -> Money:
        """The amount times an exact quantity, rounded half-even to the minor unit."""
        if isinstance(quantity, Money):
            return NotImplemented
        return Money(round(self.amount_minor * exact(quantity)), self.currency)

    __rmul__ = __mul__

    # -- ordering (same currency only; equality across currencies is simply False) -----------

    def __lt__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount_minor >= other.amount_minor


# ---------------------------------------------------------------------------------------------
# Exchange rates


def _parse_pair(pair: str) -> tuple[str, str]:
    base, sep, quote = str(pair).partition("/")
    if not sep or not base or not quote:
        raise InvalidFxTable(f"FX pair {pair!r} must read BASE/QUOTE, e.g. 'USD/AED'", pair=pair)
    for code in (base, quote):
        if code not in CURRENCIES:
            raise InvalidFxTable(f"FX pair {pair!r}: unknown currency {code!r}", pair=pair)
    if base == quote:
        raise InvalidFxTable(f"FX pair {pair!r} converts a currency to itself", pair=pair)
    return base, quote


def _parse_rate(pair: str, rate: object) -> Decimal:
    if isinstance(rate, float):
        raise InvalidFxTable(
            f'FX rate {pair} = {rate!r} is a float; write it as a string, e.g. "{rate!r}", '
            "so that it stays exact",
            pair=pair,
        )
    if isinstance(rate, bool) or not isinstance(rate, str | int | Decimal):
        raise InvalidFxTable(f"FX rate {pair} = {rate!r} is not a decimal number", pair=pair)
    try:
        value = Decimal(rate)
    except InvalidOperation:
        raise InvalidFxTable(
            f"FX rate {pair} = {rate!r} is not a decimal number", pair=pair
        ) from None
    if not value.is_finite() or value <= 0:
        raise InvalidFxTable(f"FX rate {pair} = {rate!r} must be positive", pair=pair)
    return value


class FxTable:
    """Exchange rates in major units: ``{"USD/AED": "3.6725"}`` means 1 USD = 3.6725 AED.

    A pair is found directly, as the inverse of a listed pair, or as a cross through the
    ``pivot`` currency (``base -> pivot -> quote``, each leg direct or inverse). Without an
    explicit pivot, the one currency that appears in every listed pair is the pivot (AED in
    the example above); otherwise there are no crosses. Rates are exact decimals; inverses
    and crosses are exact fractions, so a conversion rounds exactly once.
    """

    def __init__(self, rates: Mapping[str, str | int | Decimal], *, pivot: str | None = None):
        self._rates: dict[tuple[str, str], Decimal] = {}
        for pair, rate in rates.items():
            base, quote = _parse_pair(pair)
            if (base, quote) in self._rates or (quote, base) in self._rates:
                raise InvalidFxTable(
                    f"FX pair {pair!r} is listed twice (or with its inverse)", pair=pair
                )
            self._rates[(base, quote)] = _parse_rate(pair, rate)
        if pivot is None and len(self._rates) > 1:
            common = set.intersection(*({base, quote} for base, quote in self._rates))
            pivot = common.pop() if len(common) == 1 else None
        elif pivot is not None:
            minor_exponent(pivot)
        self.pivot = pivot

    @property
    def rates(self) -> dict[str, Decimal]:
        """The listed rates, keyed ``"BASE/QUOTE"``."""
        return {f"{base}/{quote}": rate for (base, quote), rate in self._rates.items()}

    def _leg(self, base: str, quote: str) -> Fraction | None:
        if base == quote:
            return Fraction(1)
        if (base, quote) in self._rates:
            return Fraction(self._rates[(base, quote)])
        if (quote, base) in self._rates:
            return 1 / Fraction(self._rates[(quote, base)])
        return None

    def rate(self, base: str, quote: str) -> Fraction:
        """How many ``quote`` major units one ``base`` major unit buys, exactly.

        FxRateNotFound when neither the pair, its inverse nor both legs via the pivot are known.
        """
        minor_exponent(base)
        minor_exponent(quote)
        direct = self._leg(base, quote)
        if direct is not None:
            return direct
        if self.pivot is not None:
            first, second = self._leg(base, self.pivot), self._leg(self.pivot, quote)
            if first is not None and second is not None:
                return first * second
        via = f", nor both legs via the pivot {self.pivot}" if self.pivot else " (no pivot)"
        raise FxRateNotFound(
            f"no FX rate for {base}/{quote}: neither {base}/{quote} nor {quote}/{base} is "
            f"listed{via}",
            base=base,
            quote=quote,
            pivot=self.pivot,
        )

    def convert(self, money: Money, currency: str) -> Money:
        """``money`` in ``currency``, rounded half-even to the target's minor unit."""
        scale = Fraction(10) ** (minor_exponent(currency) - minor_exponent(money.currency))
        amount = money.amount_minor * self.rate(money.currency, currency) * scale
        return Money(round(amount), currency)
