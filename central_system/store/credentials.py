"""Charger credentials (security profiles 1 and 2): only the password's hash is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from central_system.store.models import ChargerCredentialRow, ChargerRow


def set_charger_password(db: Session, charger_id: str, password_hash: str, at: datetime) -> None:
    if db.get(ChargerRow, charger_id) is None:
        raise LookupError(f"charger {charger_id!r} is not registered")
    row = db.get(ChargerCredentialRow, charger_id)
    if row is None:
        row = ChargerCredentialRow(charger_id=charger_id)
        db.add(row)
    row.password_hash = password_hash
    row.password_set_at = at


def charger_password_hash(db: Session, charger_id: str) -> str | None:
    row = db.get(ChargerCredentialRow, charger_id)
    return None if row is None else row.password_hash
