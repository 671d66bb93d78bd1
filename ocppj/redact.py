"""websockets logs every handshake header at DEBUG, Authorization included: hide its value.

Both peers hand websockets a `redacted_logger(...)` in place of its own logger; the logger name
stays the same, so logging configuration is unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})


class RedactedLogger(logging.LoggerAdapter):
    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        # websockets logs a header as ("> %s: %s", name, value).
        if len(args) == 2 and str(args[0]).lower() in SECRET_HEADERS:
            args = (args[0], "[redacted]")
        super().log(level, msg, *args, **kwargs)


def redacted_logger(name: str) -> RedactedLogger:
    return RedactedLogger(logging.getLogger(name), {})
