"""The central system's base exception: a stable code plus details.

Only the API layer maps these to HTTP statuses, only the OCPP layer to CALLERRORs.
"""

from __future__ import annotations

from typing import Any


class CentralSystemError(Exception):
    code = "central_system_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(CentralSystemError):
    code = "not_found"


class Conflict(CentralSystemError):
    code = "conflict"


class ChargerOffline(CentralSystemError):
    code = "charger_offline"


class CommandFailed(CentralSystemError):
    """The charger answered a command with a CALLERROR, or not at all."""

    code = "command_failed"


class Unavailable(CentralSystemError):
    """A part of the central system that is not running here (e.g. tokens disabled)."""

    code = "unavailable"


class Forbidden(CentralSystemError):
    code = "forbidden"


class Unauthenticated(CentralSystemError):
    """No credential, or one that is unknown or revoked (Forbidden: known, but not allowed)."""

    code = "unauthenticated"
