"""Time as the central system sees it: always from an injected clock, timezone-aware."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` of this clock's time have passed (the planner's interval)."""
        ...


class SystemClock:
    """Wall-clock time in UTC, for production."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def zone_key(key: str) -> str:
    """`key` when it names an IANA time zone; a ValueError that shows the expected form if not."""
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {key!r} (use an IANA key such as 'Asia/Tehran')"
        ) from None
    return key
