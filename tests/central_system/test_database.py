"""The group-commit writer: one failing operation never costs the others their data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from central_system.store import Database, migrate
from central_system.store import repository as repo


def _explode(_session):
    raise ValueError("a broken operation")


async def test_a_failing_operation_is_isolated_from_its_batch(database_url):
    migrate(database_url)
    db = Database(database_url)
    db.start()
    try:
        at = datetime(2025, 1, 1, tzinfo=UTC)
        writes = [db.write(repo.register_charger, f"CP-{n}", at) for n in range(20)]
        writes.insert(10, db.write(_explode))
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert [type(r) for r in results].count(ValueError) == 1
        assert len(await db.read(repo.list_chargers)) == 20
    finally:
        db.close()
    with pytest.raises(RuntimeError):
        await db.write(repo.register_charger, "CP-LATE", at)
