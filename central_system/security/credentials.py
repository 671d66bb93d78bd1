"""Charger passwords in the database: set them hashed, check what a charger sends."""

from __future__ import annotations

import asyncio

from central_system.clock import Clock
from central_system.security.passwords import UNSET_HASH, hash_password, verify_password
from central_system.store.credentials import charger_password_hash, set_charger_password
from central_system.store.database import Database


class ChargerCredentials:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def set_password(self, charger_id: str, password: str) -> None:
        """Store the hash of a new password (checked against OCPP's rules) for a known charger."""
        stored = await asyncio.to_thread(hash_password, password)
        await self._db.write(set_charger_password, charger_id, stored, self._clock.now())

    async def verify(self, charger_id: str, password: bytes) -> bool:
        """Is ``password`` the charger's? False for a charger without one (in the same time)."""
        stored = await self._db.read(charger_password_hash, charger_id)
        matches = await asyncio.to_thread(verify_password, stored or UNSET_HASH, password)
        return matches and stored is not None
