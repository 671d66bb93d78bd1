"""Tokenomics parameters as a file: what the tuner exports and loads back.

One TOML file with two tables: ``[token_service]``, the parameters the token service runs
with (Proof-of-Charge rates, transfer fee, staking tiers, peg), in the format the central
system loads (`evch serve --token-settings`, `evch validator --token-settings`, a scenario's
``[tokens] settings_file``); and ``[model]``, every parameter of the model, which the token
service ignores and the tuner reads back.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

import tomlkit
from pydantic import ValidationError

from central_system.payments.peg import EvchPeg
from central_system.tokens.bootstrap import DAY_S, TokenSettings
from central_system.tokens.settings_file import dump_token_settings
from programs.proof_of_charge import Rates
from programs.proof_of_charge.amounts import BPS_ONE, RAW_PER_EVCH
from programs.staking import Tier
from twin.scenario.locate import KeyLines, format_path
from twin.tokenomics.params import REWARDS, TokenomicsParams

MODEL = "model"


@dataclass(frozen=True)
class ParamsFileError(ValueError):
    """A parameters file that does not load: one line per problem, with its TOML path and line."""

    problems: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.problems)


def token_settings(params: TokenomicsParams) -> TokenSettings:
    """The token service's side of the parameters, in the ledger's integer units."""
    minting = params.minting

    def bps(share: float) -> int:
        return round(share * BPS_ONE)

    rewards_raw = params.cap_evch * params.allocations[REWARDS].share * RAW_PER_EVCH
    return TokenSettings(
        rates=Rates(
            mint_rate_raw_per_kwh=round(minting.evch_per_kwh * RAW_PER_EVCH),
            driver_bps=bps(minting.driver_share),
            operator_bps=bps(minting.operator_share),
            off_peak_multiplier_bps=bps(minting.off_peak_multiplier),
            renewable_multiplier_bps=bps(minting.renewable_multiplier),
            rewards_cap_raw=round(rewards_raw),
        ),
        transfer_fee_bps=bps(params.market.transfer_fee),
        tiers=tuple(
            Tier(
                min_amount=round(tier.min_stake_evch * RAW_PER_EVCH),
                min_lock_s=tier.lock_days * DAY_S,
                discount_bps=bps(tier.fee_discount),
            )
            for tier in params.staking.tiers
        ),
    )


def dump_params(params: TokenomicsParams) -> str:
    """The file's text: ``[token_service]`` (pegged to the average kWh price) and ``[model]``."""
    service = dump_token_settings(token_settings(params), EvchPeg())
    model = tomlkit.dumps({MODEL: params.model_dump(mode="json")})
    return (
        "# EVCH tokenomics parameters, exported by the tokenomics tuner (evch ui).\n\n"
        f"{service}\n# The tokenomics model's parameters (twin/tokenomics/params.py).\n{model}"
    )


def load_params(text: str) -> TokenomicsParams:
    """The ``[model]`` table of a parameters file, validated. Keys left out keep defaults."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ParamsFileError((f"not TOML: {error}",)) from None
    if MODEL not in data:
        raise ParamsFileError((f"no [{MODEL}] table: not a tokenomics parameters file",))
    try:
        return TokenomicsParams.model_validate(data[MODEL])
    except ValidationError as error:
        lines = KeyLines.of(text)
        problems = []
        for detail in error.errors():
            path = (MODEL, *(part for part in detail["loc"] if part))
            line = lines.line(path)
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{format_path(path)}: {detail['msg']}")
        raise ParamsFileError(tuple(problems)) from None
