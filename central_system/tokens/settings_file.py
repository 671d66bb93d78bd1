"""The token service's settings as a file: what the tokenomics tuner exports, and what
`evch serve --token-settings`, `evch validator --token-settings` and a scenario's
``[tokens] settings_file`` load.

A TOML file whose ``[token_service]`` table holds the Proof-of-Charge rates, the transfer fee,
the staking lockups and tiers and, optionally, the EVCH peg. Every other table (the tuner's
``[model]``) belongs to whoever wrote it and is not read. Keys left out keep the
:class:`~central_system.tokens.bootstrap.TokenSettings` defaults (``tiers = []`` means none)::

    [token_service]
    mint_rate_raw_per_kwh = 1_000_000   # raw EVCH minted per verified kWh
    driver_bps = 6_667
    transfer_fee_bps = 50

    [[token_service.tiers]]
    min_amount_raw = 100_000_000
    min_lock_s = 2_592_000
    discount_bps = 500

    [token_service.peg]
    basis = "usd"
    usd_per_evch = "0.25"               # a decimal string, so the rate stays exact

Values are checked against what the programs accept (u64, u32 and u16 fields, shares of at most
10,000 bps together, multipliers of at least x1, at most 8 tiers, lockups within an i64) and
tiers must ascend, so a file that loads also bootstraps. A bad file raises
:class:`TokenSettingsError`, one problem per bad field.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import tomlkit
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from central_system.errors import CentralSystemError
from central_system.payments.peg import EvchPeg, PegBasis, SettleIn
from central_system.tokens.bootstrap import TokenSettings
from central_system.toml_file import Unreadable, parse_toml, read_text
from programs.proof_of_charge import Rates
from programs.proof_of_charge.amounts import BPS_ONE, U16_MAX, U32_MAX, U64_MAX
from programs.spl.token2022 import MAX_FEE_BASIS_POINTS
from programs.staking import MAX_DISCOUNT_BPS, MAX_TIERS, Tier
from programs.staking.client import MAX_LOCK_S

Loc = tuple[str | int, ...]
TABLE = "token_service"
# The bootstrap sends the metadata uri in one transaction of at most 1,232 bytes.
MAX_METADATA_URI = 200

_DEFAULT = TokenSettings()
_DEFAULT_PEG = EvchPeg()


@dataclass(frozen=True)
class Problem:
    location: str  # e.g. "token_service.tiers[1].discount_bps"; "" for the whole file
    line: int | None  # 1-based, where tomllib gives it
    message: str

    def format(self, source: str) -> str:
        """``SOURCE:LINE: location: message``, leaving out what is unknown."""
        text = f"{source}:" + (f"{self.line}:" if self.line is not None else "")
        return text + (f" {self.location}:" if self.location else "") + f" {self.message}"

    def __str__(self) -> str:
        """``line N: location: message`` (for a report that names the source itself)."""
        text = f"line {self.line}: " if self.line is not None else ""
        return text + (f"{self.location}: " if self.location else "") + self.message


class TokenSettingsError(CentralSystemError):
    """A token settings file was refused; ``problems`` says where and why."""

    code = "token_settings_invalid"

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(
            "\n".join(p.format(source) for p in problems),
            problems=[p.format(source) for p in problems],
        )


# -- the schema ------------------------------------------------------------------------------


def _int(low: int, high: int) -> Any:
    # strict: a quoted "1000" or a 1.0 is a typo here, not a number to guess at
    return Annotated[int, Field(strict=True, ge=low, le=high)]


def _decimal_text(value: object) -> object:
    if isinstance(value, float):
        raise ValueError('write the rate as a decimal string, e.g. "0.25", so it stays exact')
    return value


def _error(loc: Loc, message: str, value: object, kind: str = "value_error") -> InitErrorDetails:
    """One error of a validator that spans fields, located at the field to change."""
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierEntry(_Table):
    """``[[token_service.tiers]]``: staking at least this much for at least this long earns
    the discount on the driver's price."""

    min_amount_raw: _int(0, U64_MAX)
    min_lock_s: _int(0, MAX_LOCK_S)
    discount_bps: _int(0, MAX_DISCOUNT_BPS)

    @staticmethod
    def fields_of(tier: Tier) -> dict[str, int]:
        return {
            "min_amount_raw": tier.min_amount,
            "min_lock_s": tier.min_lock_s,
            "discount_bps": tier.discount_bps,
        }


class PegEntry(_Table):
    """``[token_service.peg]``: what one EVCH is worth when a driver pays with it."""

    basis: PegBasis = _DEFAULT_PEG.basis
    usd_per_evch: Annotated[Decimal, BeforeValidator(_decimal_text), Field(gt=0)] | None = None
    settle_in: SettleIn = _DEFAULT_PEG.settle_in
    window_s: _int(1, MAX_LOCK_S) = int(_DEFAULT_PEG.window.total_seconds())

    @model_validator(mode="after")
    def _usd_peg_has_a_rate(self) -> PegEntry:
        if self.basis is PegBasis.USD and self.usd_per_evch is None:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [_error(("usd_per_evch",), "a usd peg needs usd_per_evch", None, "missing")],
            )
        return self

    @staticmethod
    def fields_of(peg: EvchPeg) -> dict[str, object]:
        return {
            "basis": peg.basis,
            "usd_per_evch": None if peg.usd_per_evch is None else str(peg.usd_per_evch),
            "settle_in": peg.settle_in,
            "window_s": int(peg.window.total_seconds()),
        }

    def evch_peg(self) -> EvchPeg:
        window = timedelta(seconds=self.window_s)
        return EvchPeg(self.basis, self.usd_per_evch, window, self.settle_in)


_RATES = _DEFAULT.rates


class TokenServiceTable(_Table):
    """``[token_service]``; the bounds are those of the programs' fields."""

    mint_rate_raw_per_kwh: _int(1, U64_MAX) = _RATES.mint_rate_raw_per_kwh
    driver_bps: _int(0, U16_MAX) = _RATES.driver_bps
    operator_bps: _int(0, U16_MAX) = _RATES.operator_bps
    off_peak_multiplier_bps: _int(BPS_ONE, U32_MAX) = _RATES.off_peak_multiplier_bps
    renewable_multiplier_bps: _int(BPS_ONE, U32_MAX) = _RATES.renewable_multiplier_bps
    rewards_cap_raw: _int(0, U64_MAX) = _RATES.rewards_cap_raw
    transfer_fee_bps: _int(0, MAX_FEE_BASIS_POINTS) = _DEFAULT.transfer_fee_bps
    maximum_fee_raw: _int(0, U64_MAX) = _DEFAULT.maximum_fee_raw
    min_lock_s: _int(0, MAX_LOCK_S) = _DEFAULT.min_lock_s
    max_lock_s: _int(0, MAX_LOCK_S) = _DEFAULT.max_lock_s
    tiers: Annotated[tuple[TierEntry, ...], Field(max_length=MAX_TIERS)] = tuple(
        TierEntry(**TierEntry.fields_of(tier)) for tier in _DEFAULT.tiers
    )
    metadata_uri: Annotated[str, Field(max_length=MAX_METADATA_URI)] = _DEFAULT.metadata_uri
    peg: PegEntry | None = None

    @model_validator(mode="after")
    def _holds_together(self) -> TokenServiceTable:
        problems = [*self._share_problems(), *self._lockup_problems(), *self._tier_problems()]
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__, [_error(*problem) for problem in problems]
            )
        return self

    def _share_problems(self) -> Iterator[tuple[Loc, str, int]]:
        if self.driver_bps + self.operator_bps > BPS_ONE:
            message = (
                f"driver_bps + operator_bps must be at most {BPS_ONE} "
                f"({self.driver_bps} + {self.operator_bps})"
            )
            yield ("operator_bps",), message, self.operator_bps

    def _lockup_problems(self) -> Iterator[tuple[Loc, str, int]]:
        if self.min_lock_s > self.max_lock_s:
            yield ("min_lock_s",), f"above max_lock_s ({self.max_lock_s})", self.min_lock_s

    def _tier_problems(self) -> Iterator[tuple[Loc, str, int]]:
        """Tiers ascend: each asks at least as much as the one before and gives more, so a
        tier's number reads as its rank and none hides behind a cheaper, better one."""
        for index, tier in enumerate(self.tiers):
            if tier.min_lock_s > self.max_lock_s:
                message = f"above max_lock_s ({self.max_lock_s}): no stake could qualify"
                yield ("tiers", index, "min_lock_s"), message, tier.min_lock_s
            if index == 0:
                continue
            before = self.tiers[index - 1]
            for name in ("min_amount_raw", "min_lock_s"):
                if getattr(tier, name) < getattr(before, name):
                    message = f"tiers ascend: below the previous tier's {getattr(before, name)}"
                    yield ("tiers", index, name), message, getattr(tier, name)
            if tier.discount_bps <= before.discount_bps:
                message = f"tiers ascend: must exceed the previous tier's {before.discount_bps}"
                yield ("tiers", index, "discount_bps"), message, tier.discount_bps

    @classmethod
    def of(cls, settings: TokenSettings, peg: EvchPeg | None) -> TokenServiceTable:
        """Validated like a file, so that what is dumped also loads."""
        return cls.model_validate(
            {f.name: getattr(settings.rates, f.name) for f in fields(Rates)}
            | {
                "transfer_fee_bps": settings.transfer_fee_bps,
                "maximum_fee_raw": settings.maximum_fee_raw,
                "min_lock_s": settings.min_lock_s,
                "max_lock_s": settings.max_lock_s,
                "tiers": [TierEntry.fields_of(tier) for tier in settings.tiers],
                "metadata_uri": settings.metadata_uri,
                "peg": None if peg is None else PegEntry.fields_of(peg),
            }
        )

    def settings(self) -> TokenSettings:
        return TokenSettings(
            rates=Rates(**{f.name: getattr(self, f.name) for f in fields(Rates)}),
            transfer_fee_bps=self.transfer_fee_bps,
            maximum_fee_raw=self.maximum_fee_raw,
            min_lock_s=self.min_lock_s,
            max_lock_s=self.max_lock_s,
            tiers=tuple(Tier(t.min_amount_raw, t.min_lock_s, t.discount_bps) for t in self.tiers),
            metadata_uri=self.metadata_uri,
        )


# -- reading ---------------------------------------------------------------------------------


def load_token_settings(
    source: str | os.PathLike[str],
) -> tuple[TokenSettings, EvchPeg | None]:
    """The settings and the peg (None when the file has no ``[token_service.peg]``).

    ``source`` is a path (any ``os.PathLike``) or the TOML text itself (a ``str``).
    """
    is_path = isinstance(source, os.PathLike)
    name = os.fspath(source) if is_path else "token settings"
    try:
        data = parse_toml(read_text(Path(source)) if is_path else source)
    except Unreadable as error:
        raise TokenSettingsError(name, [Problem("", error.line, error.message)]) from None
    if TABLE not in data:
        message = f"no [{TABLE}] table (the settings the token service loads)"
        raise TokenSettingsError(name, [Problem("", None, message)])
    try:
        table = TokenServiceTable.model_validate(data[TABLE])
    except ValidationError as error:
        raise TokenSettingsError(name, _problems(error)) from None
    return table.settings(), None if table.peg is None else table.peg.evch_peg()


def _problems(error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors():
        loc = tuple(detail["loc"])
        location = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in (TABLE, *loc)
        ).removeprefix(".")
        problems.append(Problem(location, None, _message(detail, loc)))
    return problems


def _message(detail: Any, loc: Loc) -> str:
    kind, message, value = detail["type"], detail["msg"], detail.get("input")
    if kind == "extra_forbidden":
        known = list(_model_at(loc).model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if close:
            return f"unknown key (did you mean {close[0]!r}?)"
        return f"unknown key; expected one of {', '.join(known)}"
    message = message.removeprefix("Value error, ")
    if isinstance(value, int | str | float | bool) and repr(value) not in message:
        message += f" (got {value!r})"
    return message


def _model_at(loc: Loc) -> type[BaseModel]:
    """The table an unknown key was found in."""
    if len(loc) >= 3 and loc[-3] == "tiers":
        return TierEntry
    if len(loc) >= 2 and loc[-2] == "peg":
        return PegEntry
    return TokenServiceTable


# -- writing ---------------------------------------------------------------------------------

_COMMENTS = {
    "mint_rate_raw_per_kwh": "raw EVCH per verified kWh (10**6 raw = 1 EVCH)",
    "driver_bps": "the driver's share of that, basis points",
    "operator_bps": "the operator's share (together <= 10,000 bps)",
    "off_peak_multiplier_bps": "off-peak: x this / 10,000 (10,000: no reward)",
    "renewable_multiplier_bps": "renewable: x this / 10,000",
    "rewards_cap_raw": "raw EVCH all rewards may mint in total",
    "transfer_fee_bps": "platform fee on EVCH transfers, basis points",
    "maximum_fee_raw": "at most this fee per transfer, raw EVCH",
    "min_lock_s": "shortest staking lock, seconds",
    "max_lock_s": "longest staking lock, seconds",
    "metadata_uri": "the mint's metadata URI (empty: none)",
    "min_amount_raw": "raw EVCH staked (as arrived in the vault)",
    "discount_bps": "off the driver's price, basis points",
    "basis": "kwh: average kWh price; usd: usd_per_evch",
    "usd_per_evch": "USD per EVCH, a decimal string",
    "settle_in": "the operator is paid in fiat or usdc",
    "window_s": "kwh peg: prices averaged over, seconds",
}
_TIER_COMMENTS = _COMMENTS | {"min_lock_s": "locked at least, seconds"}


def dump_token_settings(settings: TokenSettings, peg: EvchPeg | None = None) -> str:
    """The ``[token_service]`` table as TOML text, units in comments. Settings the loader
    would refuse (e.g. tiers that do not ascend) raise :class:`TokenSettingsError`."""
    try:
        table = TokenServiceTable.of(settings, peg)
    except ValidationError as error:
        raise TokenSettingsError("token settings", _problems(error)) from None
    values = table.model_dump(exclude={"tiers", "peg"})
    lines = [
        "# EVCH token service settings (central_system/tokens/settings_file.py).",
        f"[{TABLE}]",
        *(_line(key, value, _COMMENTS) for key, value in values.items()),
    ]
    if not table.tiers:
        lines.append(_line("tiers", [], {"tiers": "no staking tiers: no fee discounts"}))
    for tier in table.tiers:
        lines += ["", f"[[{TABLE}.tiers]]"]
        lines += [_line(k, v, _TIER_COMMENTS) for k, v in tier.model_dump().items()]
    if table.peg is not None:
        lines += ["", f"[{TABLE}.peg]"]
        peg_values = table.peg.model_dump(mode="json", exclude_none=True)
        lines += [_line(key, value, _COMMENTS) for key, value in peg_values.items()]
    return "\n".join(lines) + "\n"


def _line(key: str, value: object, comments: dict[str, str]) -> str:
    text = f"{value:_}" if isinstance(value, int) else tomlkit.item(value).as_string()
    return f"{key} = {text}".ljust(40) + f"# {comments[key]}"
