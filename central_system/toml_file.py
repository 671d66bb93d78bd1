"""A settings file read for a report: its text and its TOML, or what is wrong with them.

Shared by the service's settings (``config_file.py``) and the token service's
(``tokens/settings_file.py``), which each put the problem in their own report.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class Unreadable(Exception):
    """The file cannot be read, or is not TOML; ``line`` (1-based) where that is known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def read_text(path: Path) -> str:
    """The file's UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Unreadable("no such file") from None
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text") from None
    except OSError as error:
        raise Unreadable(f"cannot read: {error.strerror}") from None


def parse_toml(text: str) -> dict[str, Any]:
    """The TOML ``text`` parsed; a syntax error says its line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _TOML_POSITION.search(message)
        if match is None:
            raise Unreadable(f"invalid TOML: {message}") from None
        text = message[: match.start()]
        raise Unreadable(
            f"invalid TOML: {text} (column {match.group(2)})", int(match.group(1))
        ) from None
