"""API keys of the REST API: only the SHA-256 of each key is stored (see central_system/access)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_system.access import ApiKey, Role, key_hash
from central_system.errors import Conflict
from central_system.store.models import ApiKeyRow


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.name, Role(row.role), row.created_at, row.revoked_at)


def add_api_key(db: Session, name: str, role: Role, hashed: str, at: datetime) -> ApiKey:
    """Store a new key; a name is never reused, not even a revoked one's (audit trails)."""
    if db.get(ApiKeyRow, name) is not None:
        raise Conflict(f"an API key named {name!r} exists already", name=name)
    row = ApiKeyRow(name=name, role=role.value, key_hash=hashed, created_at=at)
    db.add(row)
    return _api_key(row)


def revoke_api_key(db: Session, name: str, at: datetime) -> ApiKey | None:
    """Revoke the key for good (None: no such key); revoking twice keeps the first time."""
    row = db.get(ApiKeyRow, name)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = at
    return _api_key(row)


def list_api_keys(db: Session) -> list[ApiKey]:
    return [_api_key(row) for row in db.scalars(select(ApiKeyRow).order_by(ApiKeyRow.name))]


def authenticate(db: Session, key: str) -> ApiKey | None:
    """The active key `key` is, if any, found by its hash: the index compares hashes, and the
    time that takes cannot help an attacker, who chooses keys, not their SHA-256."""
    row = db.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash(key))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return _api_key(row)
