"""Logs for a service: one JSON object per line, or plain text for a terminal.

Every line carries ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, then the
record's extra fields (``log.info("...", extra={"session_id": 7})``) and, for whatever is logged
while a charger's connection is being served, that charger's ``charger_id``::

    {"time": "2025-03-01T12:00:00.123Z", "level": "INFO", "logger": "central_system.ocpp.server",
     "message": "CP-1 connected over ocpp1.6", "charger_id": "CP-1", "ocpp_version": "1.6"}
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

# The charger whose connection the current task serves (tasks it spawns inherit it).
current_charger: ContextVar[str | None] = ContextVar("current_charger", default=None)

# What every LogRecord has; anything else on a record is an extra field worth showing.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ChargerContext(logging.Filter):
    """Puts the served charger's id on each record that does not name one itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        charger_id = current_charger.get()
        if charger_id is not None and not hasattr(record, "charger_id"):
            record.charger_id = charger_id
        return True


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON; values JSON cannot hold are written as text."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, object] = {
            "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    """Send every logger's records to stderr in ``log_format``, from ``level`` up; replaces
    the root logger's handlers (so a second call does not log twice)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ChargerContext())
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
