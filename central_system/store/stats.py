"""Counts an operator watches (the metrics endpoint reads them at every scrape): cheap queries
that load no rows."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from central_system.domain.model import SessionState
from central_system.domain.tokens import TokenTxStatus
from central_system.store.models import SessionRow, TokenTransactionRow


def ping(db: Session) -> None:
    """Raises unless the database answers."""
    db.execute(text("SELECT 1"))


def count_sessions(db: Session, state: SessionState) -> int:
    stmt = select(func.count()).select_from(SessionRow).where(SessionRow.state == state.value)
    return db.scalar(stmt) or 0


def pending_token_transactions(db: Session) -> dict[str, int]:
    """The token outbox: rows still to be sent to the ledger, by kind."""
    stmt = (
        select(TokenTransactionRow.kind, func.count())
        .where(TokenTransactionRow.status == TokenTxStatus.PENDING.value)
        .group_by(TokenTransactionRow.kind)
    )
    return {kind: count for kind, count in db.execute(stmt)}
