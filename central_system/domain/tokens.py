"""Token-side values of the domain: wallets and the token operations the central system makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction


class KycStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # the holder's token account is thawed
    REFUSED = "refused"  # frozen: cannot receive or pay
    REVOKED = "revoked"  # approved once, frozen again


class TokenTxKind(StrEnum):
    PROOF_OF_CHARGE = "proof_of_charge"  # mint for a verified session
    KYC_THAW = "kyc_thaw"
    KYC_FREEZE = "kyc_freeze"
    STAKE = "stake"
    UNSTAKE = "unstake"
    CLAWBACK = "clawback"  # the regulator takes tokens back (permanent delegate)
    REDEEM = "redeem"  # burnt for a marketplace service
    PAYMENT = "payment"  # a session paid in EVCH (transfer with fee to the operator)
    GREEN_CREDIT = "green_credit"  # a renewable charging certificate (NonTransferable mint)
    ADMIN_BURN = "admin_burn"  # the admin burns from a holder (the mint's permanent delegate)
    PAUSE = "pause"  # Proof-of-Charge paused or resumed
    UPDATE_RATES = "update_rates"  # new mint rates for sessions recorded afterwards
    FEES_WITHDRAWN = "fees_withdrawn"  # withheld transfer fees moved to the treasury


class TokenTxStatus(StrEnum):
    PENDING = "pending"  # in the outbox: to be sent (again)
    CONFIRMED = "confirmed"  # final on the ledger
    BLOCKED = "blocked"  # waits for something else (e.g. the driver's KYC)
    FAILED = "failed"  # refused for good; the error says why


@dataclass(frozen=True)
class Wallet:
    """A holder's wallet; custodial ones have their key in the central system (never shown)."""

    owner_ref: str  # the driver's id token, or the operator's name
    pubkey: str
    token_account: str  # the associated EVCH account
    kyc_status: KycStatus
    custodial: bool
    created_at: datetime
    kyc_checked_at: datetime | None = None


@dataclass(frozen=True)
class TokenTransaction:
    tx_id: int
    kind: TokenTxKind
    status: TokenTxStatus
    session_id: int | None
    owner_ref: str | None
    amount_raw: int | None
    attempts: int
    signature: str | None
    error: str | None
    compute_units: int | None
    slot: int | None
    detail: dict | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Settlement:
    """A session paid in EVCH and the operator's settlement for it."""

    session_id: int
    tx_id: int
    operator_ref: str
    bill_minor: int
    bill_currency: str
    peg_basis: str  # kwh: the site's average kWh price; usd: the USDC rate
    evch_value_minor: Fraction  # one EVCH in minor units of the bill's currency
    gross_raw: int  # what the driver sent
    fee_raw: int  # the platform's transfer fee, withheld in the operator's account
    net_raw: int  # what the operator received
    settled_in: str  # fiat or usdc
    settled_minor: int
    settled_currency: str
    settled_at: datetime
