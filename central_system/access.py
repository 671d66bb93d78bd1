"""Access to the REST API: roles, and API keys that carry one.

An API key is ``evch_`` followed by 43 url-safe characters: 256 random bits. Only its SHA-256
is stored (table ``api_keys``), so a copy of the database gives nobody a key; with that much
entropy a fast unsalted hash is safe (passwords, which people choose, need a slow salted one).
The key itself is shown once, when it is made, and never logged.

What each role may do is the route matrix of ``central_system/api/auth.py``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

KEY_PREFIX = "evch_"
KEY_BYTES = 32
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class Role(StrEnum):
    ADMIN = "admin"  # everything, including the ledger's admin operations and meter keys
    OPERATOR = "operator"  # runs the network: chargers, id tokens, sites, remote commands
    ANALYST = "analyst"  # reads everything that is not secret
    REGULATOR = "regulator"  # reads the audit trail: sessions, meters, token transactions


@dataclass(frozen=True)
class ApiKey:
    """A stored API key, without the key: its name, role and lifetime."""

    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_api_key() -> str:
    """A fresh random key, to be shown once and stored only as `key_hash`."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> str:
    """The SHA-256 of the key, hex: what the database keeps."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_name(name: str) -> str:
    """A key's name: 1-64 letters, digits and ``._@-``, starting with a letter or digit."""
    if not NAME.match(name):
        raise ValueError(
            f"API key name {name!r}: 1 to 64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name
