"""Times as OCPP-J writes them: RFC 3339, UTC, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime

from ocpp.exceptions import PropertyConstraintViolationError


def to_wire_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_wire_time(text: str) -> datetime:
    """Parse a peer's timestamp as sent; a bad one is a PropertyConstraintViolation."""
    try:
        at = datetime.fromisoformat(text)
    except (TypeError, ValueError) as error:
        raise PropertyConstraintViolationError(
            details={"cause": f"not an RFC 3339 time: {text!r}"}
        ) from error
    if at.tzinfo is None:  # some chargers omit the offset; OCPP times are UTC
        at = at.replace(tzinfo=UTC)
    return at
