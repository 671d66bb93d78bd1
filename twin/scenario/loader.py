"""Reading a scenario file: every problem reported at once, each pointing at its line.

    >>> loaded = load_scenario("scenarios/quickstart.toml")   # doctest: +SKIP
    >>> loaded.scenario.scenario.seed, loaded.sha256[:8]       # doctest: +SKIP

A bad file raises :class:`ScenarioError`, whose report reads like a compiler's::

    bad.toml:14: sites[0].grid_limit_kw: Input should be greater than 0 (got -5)
    bad.toml:21: sites[0].chargers[1].protocol: Input should be '1.6' or '2.0.1' (got '2.0')
"""

from __future__ import annotations

import difflib
import hashlib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from central_system.toml_file import Unreadable, parse_toml
from twin.scenario.locate import KeyLines, TomlPath, format_path
from twin.scenario.schema import Scenario

_SCALARS = (str, int, float, bool, date, datetime, time)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    location: str  # the TOML path, e.g. "sites[0].chargers[2].protocol"; "" for the whole file
    line: int | None  # 1-based, None when unknown
    message: str

    def format(self, path: str | PathLike[str]) -> str:
        """``FILE:LINE: location: message``, leaving out what is unknown."""
        text = f"{path}:" + (f"{self.line}:" if self.line is not None else "")
        return text + (f" {self.location}:" if self.location else "") + f" {self.message}"


class ScenarioError(Exception):
    """A scenario file could not be loaded; ``problems`` lists every reason."""

    code = "scenario_invalid"

    def __init__(self, path: str | PathLike[str], problems: Sequence[Problem]) -> None:
        self.path = Path(path)
        self.problems = tuple(problems)
        super().__init__(self.report())

    def report(self) -> str:
        """One line per problem, ``FILE:LINE: location: message``."""
        return "\n".join(problem.format(self.path) for problem in self.problems)


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with the exact text it came from (for the run record)."""

    path: Path  # absolute
    text: str  # the file's text, unchanged
    sha256: str  # hex digest of the file's bytes
    scenario: Scenario


def load_scenario(path: str | PathLike[str]) -> LoadedScenario:
    """Read, parse and validate a scenario file; raise :class:`ScenarioError` if it is bad.

    Relative paths inside the file are resolved against the file's folder.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(path, [Problem("", None, "no such file")]) from None
    except OSError as error:
        raise ScenarioError(path, [Problem("", None, f"cannot read: {error.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ScenarioError(path, [Problem("", line, "not UTF-8 text")]) from None
    try:
        data = parse_toml(text)
    except Unreadable as error:
        raise ScenarioError(path, [Problem("", error.line, error.message)]) from None
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as error:
        raise ScenarioError(path, validation_problems(error, text)) from None
    return LoadedScenario(path.resolve(), text, hashlib.sha256(raw).hexdigest(), scenario)


def validation_problems(error: ValidationError, text: str) -> list[Problem]:
    """The errors of ``Scenario.model_validate`` as problems located in the TOML ``text``."""
    lines = KeyLines.of(text)
    problems: list[Problem] = []
    for detail in error.errors():
        path, model = _toml_path(detail["loc"])
        kind = detail["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "kind")  # the discriminator of a tagged section
        problem = Problem(format_path(path), lines.line(path), _message(detail, path, model))
        if problem not in problems:
            problems.append(problem)
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def _message(detail: Any, path: TomlPath, model: type[BaseModel] | None) -> str:
    kind, message, value = detail["type"], detail["msg"], detail.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = list(model.model_fields) if model is not None else []
        key = str(path[-1]) if path else ""
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            return f"unknown key (did you mean {close[0]!r}?)"
        return "unknown key" + (f"; expected one of {', '.join(allowed)}" if allowed else "")
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if isinstance(value, _SCALARS) and repr(value) not in message:
        message += f" (got {value!r})"
    return message


def _toml_path(loc: Sequence[str | int]) -> tuple[TomlPath, type[BaseModel] | None]:
    """A pydantic error location as a path in the file, and the model of its last key.

    Tagged unions put the tag in the location (``arrivals.generated.stay_h``); the file does
    not have it, so it is dropped.
    """
    path: list[str | int] = []
    node: Any = Scenario
    model: type[BaseModel] | None = None
    for part in loc:
        node = _unwrap(node)
        tags = _union_tags(node)
        if isinstance(part, str) and part in tags:
            node = tags[part]
            continue
        model = None
        if isinstance(node, type) and issubclass(node, BaseModel):
            model = node
            field = node.model_fields.get(part) if isinstance(part, str) else None
            node = field.annotation if field is not None else None
        else:
            origin, args = typing.get_origin(node), typing.get_args(node)
            if origin in (list, tuple) and args:
                node = args[0]
            elif origin is dict and len(args) == 2:
                node = args[1]
            else:
                node = None
        path.append(part)
    return tuple(path), model


def _unwrap(node: Any) -> Any:
    """Drop ``Annotated`` and ``| None`` from a field type."""
    while True:
        origin = typing.get_origin(node)
        if origin is typing.Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(node) if arg is not type(None)]
            if len(members) != 1:
                return node
            node = members[0]
        else:
            return node


def _union_tags(node: Any) -> dict[str, type[BaseModel]]:
    """For a union of models told apart by a literal ``kind``: tag -> model."""
    if typing.get_origin(node) not in (typing.Union, types.UnionType):
        return {}
    tags: dict[str, type[BaseModel]] = {}
    for member in typing.get_args(node):
        if isinstance(member, type) and issubclass(member, BaseModel):
            field = member.model_fields.get("kind")
            if field is not None and typing.get_origin(field.annotation) is typing.Literal:
                tags.update(dict.fromkeys(typing.get_args(field.annotation), member))
    return tags
