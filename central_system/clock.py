"""Time as the central system sees it: always from an injected clock, timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """Wall-clock time in UTC, for production."""

    def now(self) -> datetime:
        return datetime.now(UTC)
