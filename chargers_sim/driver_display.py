"""What the driver sees on the charger's screen: prices, running and final costs, messages.

The central system sends prices and costs over OCPP (2.0.1: CostUpdated, the answers to
TransactionEvent, SetDisplayMessage; 1.6: the OCA "California Pricing" DataTransfer messages of
vendor org.openchargealliance.costmsg). The emulated charger records each one here, as shown, so
the twin can check that the cost the driver saw is the cost the central system billed.

Amounts are `Decimal` in major units of the currency (e.g. 12.34 EUR), exactly as sent: never
floats. Transaction ids are strings in both versions (a 1.6 integer id as its decimal text).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

# tariff: a price or tariff text for the driver (1.6 SetUserPrice, 2.0.1 updatedPersonalMessage)
# running: the cost so far of an ongoing transaction (1.6 RunningCost, 2.0.1 CostUpdated or
#          totalCost in the answer to TransactionEvent Started/Updated)
# final: the total cost of a transaction (1.6 FinalCost, 2.0.1 totalCost answering Ended)
# message: a display message (2.0.1 SetDisplayMessage)
DisplayKind = Literal["tariff", "running", "final", "message"]


@dataclass(frozen=True)
class ChargingPrice:
    """The price a 1.6 RunningCost shows (major units per kWh, per hour, once)."""

    kwh_price: Decimal | None = None
    hour_price: Decimal | None = None
    flat_fee: Decimal | None = None


@dataclass(frozen=True)
class DisplayedCost:
    """One thing the charger showed the driver, at the charger's (injected) clock time."""

    at: datetime
    kind: DisplayKind
    transaction_id: str | None  # None: not tied to a transaction (yet)
    amount: Decimal | None = None  # the cost, major units
    text: str | None = None  # price text, personal message or display message content
    currency: str | None = None  # 2.0.1: TariffCostCtrlr.Currency; 1.6 does not say
    id_token: str | None = None  # 1.6 SetUserPrice before the driver's transaction started
    energy_wh: int | None = None  # 1.6 RunningCost: the meter value the cost is for
    price: ChargingPrice | None = None  # 1.6 RunningCost: the charging price shown
    message_id: int | None = None  # 2.0.1 SetDisplayMessage: the message's id
    source: str = ""  # the OCPP message that brought it, e.g. "CostUpdated"


class DriverDisplay:
    """The charger's screen, as a log of everything shown on it, oldest first."""

    def __init__(self) -> None:
        self._shown: list[DisplayedCost] = []

    def show(self, shown: DisplayedCost) -> DisplayedCost:
        self._shown.append(shown)
        return shown

    @property
    def messages(self) -> tuple[DisplayedCost, ...]:
        return tuple(self._shown)

    def __iter__(self) -> Iterator[DisplayedCost]:
        return iter(tuple(self._shown))

    def __len__(self) -> int:
        return len(self._shown)

    def for_transaction(self, transaction_id: str) -> list[DisplayedCost]:
        return [s for s in self._shown if s.transaction_id == transaction_id]

    def for_id_token(self, id_token: str) -> list[DisplayedCost]:
        """What was shown for a driver's token before their transaction was known (1.6)."""
        return [s for s in self._shown if s.id_token == id_token]

    def running_cost(self, transaction_id: str) -> Decimal | None:
        """The latest running cost shown for the transaction."""
        return self._latest(transaction_id, "running")

    def final_cost(self, transaction_id: str) -> Decimal | None:
        """The final cost shown for the transaction (the latest, if it was sent again)."""
        return self._latest(transaction_id, "final")

    def texts(self, transaction_id: str) -> list[str]:
        """Every text shown for the transaction, in order."""
        return [s.text for s in self.for_transaction(transaction_id) if s.text is not None]

    def _latest(self, transaction_id: str, kind: DisplayKind) -> Decimal | None:
        for shown in reversed(self._shown):
            if (
                shown.transaction_id == transaction_id
                and shown.kind == kind
                and shown.amount is not None
            ):
                return shown.amount
        return None


def decimal_amount(value: float | int) -> Decimal:
    """A JSON number the `ocpp` library parsed (float or int) as the Decimal that was sent.

    `str` of a float is its shortest round-tripping form, i.e. the text on the wire for any
    amount of up to 15 significant digits.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"not a number: {value!r}")
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return amount


__all__ = [
    "ChargingPrice",
    "DisplayKind",
    "DisplayedCost",
    "DriverDisplay",
    "decimal_amount",
]
