"""Payments: sessions paid in EVCH and the operator's settlement (fiat is paid at the charger).

peg.py   what one EVCH is worth (average kWh price or a USDC rate), quotes with the fee
evch.py  EvchPayments: pay a session once, record the operator's settlement
"""

from central_system.payments.evch import EvchPayments, PaymentRefused
from central_system.payments.peg import EvchPeg, EvchQuote, NoEvchPrice, PegBasis, SettleIn

__all__ = [
    "EvchPayments",
    "EvchPeg",
    "EvchQuote",
    "NoEvchPrice",
    "PaymentRefused",
    "PegBasis",
    "SettleIn",
]
