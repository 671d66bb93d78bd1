"""Queries and updates of wallets and token transactions (see repository.py for the style)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from fractions import Fraction

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from central_system.domain.tokens import (
    KycStatus,
    Settlement,
    TokenTransaction,
    TokenTxKind,
    TokenTxStatus,
    Wallet,
)
from central_system.pricing import fraction_text
from central_system.store.models import OperatorSettlementRow, TokenTransactionRow, WalletRow


def _wallet(row: WalletRow) -> Wallet:
    return Wallet(
        owner_ref=row.owner_ref,
        pubkey=row.pubkey,
        token_account=row.token_account,
        kyc_status=KycStatus(row.kyc_status),
        custodial=row.secret is not None,
        created_at=row.created_at,
        kyc_checked_at=row.kyc_checked_at,
    )


def _transaction(row: TokenTransactionRow) -> TokenTransaction:
    return TokenTransaction(
        tx_id=row.tx_id,
        kind=TokenTxKind(row.kind),
        status=TokenTxStatus(row.status),
        session_id=row.session_id,
        owner_ref=row.owner_ref,
        amount_raw=row.amount_raw,
        attempts=row.attempts,
        signature=row.signature,
        error=row.error,
        compute_units=row.compute_units,
        slot=row.slot,
        detail=row.detail,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# -- wallets ---------------------------------------------------------------------------------


def insert_wallet(
    db: Session,
    owner_ref: str,
    pubkey: str,
    token_account: str,
    secret: bytes | None,
    now: datetime,
) -> Wallet:
    row = WalletRow(
        owner_ref=owner_ref,
        pubkey=pubkey,
        token_account=token_account,
        secret=secret,
        kyc_status=KycStatus.PENDING.value,
        created_at=now,
    )
    db.add(row)
    db.flush()
    return _wallet(row)


def get_wallet(db: Session, owner_ref: str) -> Wallet | None:
    row = db.get(WalletRow, owner_ref)
    return None if row is None else _wallet(row)


def list_wallets(db: Session) -> list[Wallet]:
    return [_wallet(r) for r in db.scalars(select(WalletRow).order_by(WalletRow.owner_ref))]


def wallet_secret(db: Session, owner_ref: str) -> bytes | None:
    """A custodial wallet's secret key: for signing only, never for display."""
    row = db.get(WalletRow, owner_ref)
    return None if row is None else row.secret


def set_kyc(db: Session, owner_ref: str, status: KycStatus, now: datetime) -> Wallet:
    row = db.get(WalletRow, owner_ref)
    row.kyc_status, row.kyc_checked_at = status.value, now
    db.flush()
    return _wallet(row)


# -- token transactions ----------------------------------------------------------------------


def enqueue(
    db: Session,
    kind: TokenTxKind,
    now: datetime,
    *,
    session_id: int | None = None,
    owner_ref: str | None = None,
    amount_raw: int | None = None,
) -> TokenTransaction | None:
    """A new pending operation; None when the session already has one of this kind."""
    if session_id is not None:
        existing = db.scalars(
            select(TokenTransactionRow).where(
                TokenTransactionRow.kind == kind.value,
                TokenTransactionRow.session_id == session_id,
            )
        ).first()
        if existing is not None:
            return None
    row = TokenTransactionRow(
        kind=kind.value,
        session_id=session_id,
        owner_ref=owner_ref,
        amount_raw=amount_raw,
        status=TokenTxStatus.PENDING.value,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    db.flush()
    return _transaction(row)


def record_transaction(
    db: Session, kind: TokenTxKind, status: TokenTxStatus, now: datetime, **fields: object
) -> TokenTransaction:
    """An operation made at once (not through the outbox), with its outcome."""
    row = TokenTransactionRow(
        kind=kind.value, status=status.value, attempts=1, created_at=now, updated_at=now, **fields
    )
    db.add(row)
    db.flush()
    return _transaction(row)


def update_transaction(
    db: Session, tx_id: int, now: datetime, **changes: object
) -> TokenTransaction:
    row = db.get(TokenTransactionRow, tx_id)
    for name, value in changes.items():
        if isinstance(value, TokenTxStatus):
            value = value.value
        setattr(row, name, value)
    row.updated_at = now
    db.flush()
    return _transaction(row)


def transactions_in(
    db: Session, statuses: tuple[TokenTxStatus, ...], kind: TokenTxKind | None = None
) -> list[TokenTransaction]:
    stmt = select(TokenTransactionRow).where(
        TokenTransactionRow.status.in_([s.value for s in statuses])
    )
    if kind is not None:
        stmt = stmt.where(TokenTransactionRow.kind == kind.value)
    return [_transaction(r) for r in db.scalars(stmt.order_by(TokenTransactionRow.tx_id))]


def list_transactions(
    db: Session, owner_ref: str | None = None, session_id: int | None = None
) -> list[TokenTransaction]:
    stmt = select(TokenTransactionRow).order_by(TokenTransactionRow.tx_id)
    if owner_ref is not None:
        stmt = stmt.where(TokenTransactionRow.owner_ref == owner_ref)
    if session_id is not None:
        stmt = stmt.where(TokenTransactionRow.session_id == session_id)
    return [_transaction(r) for r in db.scalars(stmt)]


# -- payments in EVCH ------------------------------------------------------------------------


def claim_payment(
    db: Session, session_id: int, owner_ref: str, amount_raw: int, now: datetime
) -> TokenTransaction | None:
    """The session's payment row, now pending (one per session, so a session is paid once);
    None when it is already paid or a payment is under way. A failed one is tried again."""
    row = db.scalars(
        select(TokenTransactionRow).where(
            TokenTransactionRow.kind == TokenTxKind.PAYMENT.value,
            TokenTransactionRow.session_id == session_id,
        )
    ).first()
    if row is None:
        return enqueue(
            db,
            TokenTxKind.PAYMENT,
            now,
            session_id=session_id,
            owner_ref=owner_ref,
            amount_raw=amount_raw,
        )
    claimed = db.execute(
        update(TokenTransactionRow)
        .where(
            TokenTransactionRow.tx_id == row.tx_id,
            TokenTransactionRow.status == TokenTxStatus.FAILED.value,
        )
        .values(status=TokenTxStatus.PENDING.value, amount_raw=amount_raw, updated_at=now)
    )
    if claimed.rowcount != 1:
        return None
    db.refresh(row)
    return _transaction(row)


def record_settlement(db: Session, settlement: Settlement, **changes: object) -> Settlement:
    """The payment confirmed (its row updated with ``changes``) and the operator's settlement
    stored, in one database transaction."""
    update_transaction(db, settlement.tx_id, settlement.settled_at, **changes)
    fields = {f.name: getattr(settlement, f.name) for f in dataclasses.fields(Settlement)}
    fields["evch_value_minor"] = fraction_text(settlement.evch_value_minor)
    db.add(OperatorSettlementRow(**fields))
    db.flush()
    return settlement


def _settlement(row: OperatorSettlementRow) -> Settlement:
    fields = {f.name: getattr(row, f.name) for f in dataclasses.fields(Settlement)}
    fields["evch_value_minor"] = Fraction(row.evch_value_minor)
    return Settlement(**fields)


def get_settlement(db: Session, session_id: int) -> Settlement | None:
    row = db.get(OperatorSettlementRow, session_id)
    return None if row is None else _settlement(row)


def list_settlements(db: Session) -> list[Settlement]:
    stmt = select(OperatorSettlementRow).order_by(OperatorSettlementRow.session_id)
    return [_settlement(r) for r in db.scalars(stmt)]
