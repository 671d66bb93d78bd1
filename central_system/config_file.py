"""The central system's settings as a file: what `evch serve --config FILE` runs with.

A flat TOML file whose keys are the fields of :class:`~central_system.config.Settings`, the very
names the environment uses without its ``EVCH_`` prefix (``ocpp_port`` <-> ``EVCH_OCPP_PORT``)::

    database_url = "postgresql+psycopg://evch@db.internal/evch"
    host = "0.0.0.0"
    ocpp_port = 9000
    log_format = "json"

Each setting is taken from the first of: the command line's flag, the ``EVCH_*`` environment
variable, the file, the default. The whole result is validated at once; a bad file raises
:class:`ConfigError` with one problem per bad key, each naming where the value came from::

    evch.toml:7: ocpp_prot: unknown key (did you mean 'ocpp_port'?)
    evch.toml:9: heartbeat_interval_s: Input should be a valid integer (got 'often')
    EVCH_API_PORT: Input should be a valid integer (got 'x')

Relative paths in the file (``token_settings``, ``tls_*_file``) are read from the file's folder.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import EnvSettingsSource

from central_system.config import Settings
from central_system.errors import CentralSystemError
from central_system.toml_file import Unreadable, parse_toml, read_text

# The key a line defines or the table it opens: `key =`, `key.sub =`, `"key" =`, `[key]`.
_KEY_LINE = re.compile(
    r"""^\s*(?:\[\[?\s*)?(?:(?P<bare>[A-Za-z0-9_-]+)|"(?P<quoted>[^"]*)")\s*(?:[=.\]])"""
)
_SCALARS = (str, int, float, bool)
# Settings whose values a report must not repeat.
_SECRETS = frozenset(key for key, field in Settings.model_fields.items() if not field.repr)


@dataclass(frozen=True)
class Problem:
    source: str  # the file, an environment variable or a flag
    line: int | None  # 1-based, for problems in the file
    key: str  # the setting; "" for the whole file
    message: str

    def __str__(self) -> str:
        """``SOURCE:LINE: key: message``, leaving out what is unknown."""
        text = f"{self.source}:" + (f"{self.line}:" if self.line is not None else "")
        return text + (f" {self.key}:" if self.key else "") + f" {self.message}"


class ConfigError(CentralSystemError):
    """The settings were refused; ``problems`` says where and why."""

    code = "config_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        report = [str(problem) for problem in problems]
        super().__init__("\n".join(report), problems=report)


def load_settings(
    path: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """The settings from ``overrides`` (the command line's flags, by field name), then the
    ``EVCH_*`` environment variables, then the file at ``path`` (if any), then the defaults."""
    overrides = dict(overrides or {})
    file_values, lines, name = ({}, {}, "") if path is None else _read(Path(path))
    env_values = EnvSettingsSource(Settings)()  # decoded as the settings decode them
    sources = {key: "file" for key in file_values}
    sources |= {key: "env" for key in env_values} | {key: "flag" for key in overrides}
    try:
        # Given as arguments, every value outranks what the settings would read themselves.
        return Settings(**(file_values | env_values | overrides))
    except ValidationError as error:
        # The file's problems first, in line order, then the environment's, then the flags'.
        in_file, in_env, in_flags = [], [], []
        for detail in error.errors():
            key = str(detail["loc"][0]) if detail["loc"] else ""
            message = _message(detail, secret=key in _SECRETS)
            where = sources.get(key, "file")
            if where == "flag":
                in_flags.append(Problem("--" + key.replace("_", "-"), None, "", message))
            elif where == "env":
                in_env.append(Problem("EVCH_" + key.upper(), None, "", message))
            else:
                in_file.append(Problem(name or "settings", lines.get(key), key, message))
        in_file.sort(key=lambda p: p.line or 0)
        raise ConfigError([*in_file, *in_env, *in_flags]) from None


def _read(path: Path) -> tuple[dict[str, Any], dict[str, int], str]:
    """The file's settings, the line of each key, and the file's name for reports."""
    name = str(path)
    try:
        text = read_text(path)
        data = parse_toml(text)
    except Unreadable as error:
        raise ConfigError([Problem(name, error.line, "", error.message)]) from None
    lines = key_lines(text)
    known = list(Settings.model_fields)
    unknown = [
        Problem(name, lines.get(key), key, _unknown(key, data[key], known))
        for key in data
        if key not in Settings.model_fields
    ]
    if unknown:
        raise ConfigError(sorted(unknown, key=lambda p: p.line or 0))
    return _relative_to(path.parent, data), lines, name


def key_lines(text: str) -> dict[str, int]:
    """The 1-based line where each top-level key is first set (or its table opened).

    A help for reports, not a parser: ``tomllib`` has accepted the text already.
    """
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _KEY_LINE.match(line)
        if match:
            lines.setdefault(match["bare"] or match["quoted"], number)
    return lines


def _relative_to(folder: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Paths in the file are read from the file's folder, wherever the service starts."""
    values = dict(data)
    for key, field in Settings.model_fields.items():
        value, kinds = values.get(key), (field.annotation, *typing.get_args(field.annotation))
        if isinstance(value, str) and Path in kinds:
            values[key] = str(folder / Path(value).expanduser())
    return values


def _unknown(key: str, value: object, known: list[str]) -> str:
    kind = "table" if isinstance(value, dict) else "key"
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown {kind} (did you mean {close[0]!r}?)"
    return f"unknown {kind}; the settings are flat keys: {', '.join(known)}"


def _message(detail: Any, *, secret: bool = False) -> str:
    message, value = detail["msg"], detail.get("input")
    message = message.removeprefix("Value error, ")
    if not secret and isinstance(value, _SCALARS) and repr(value) not in message:
        message += f" (got {value!r})"
    return message
