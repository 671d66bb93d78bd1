"""The Proof-of-Charge program: EVCH minted per verified kWh, once per session.

``proof_of_charge.c`` is the on-chain program (C, SBPFv0; built by programs/sbpf). It owns the
EVCH mint authority (PDA ["mint_authority"]); a registered attestor records a charging session
(RecordCharge), the program refuses a second record of the same session (its PDA ["session", id])
and mints the driver's and the operator's shares, plus off-peak/renewable rewards from a capped
pool, computed from the energy and the on-chain config (PDA ["config"]).

The Python side builds its instructions (``client``), parses its accounts (``state``), predicts
its amounts (``amounts``) and names its errors (``errors``).
"""

from __future__ import annotations

from pathlib import Path

from programs.proof_of_charge.amounts import (
    DEFAULT_MINT_RATE_RAW_PER_KWH,
    REWARDS_POOL_RAW,
    TOTAL_SUPPLY_RAW,
    MintAmounts,
    Rates,
    RewardClass,
    mint_amounts,
    would_exceed_cap,
)
from programs.proof_of_charge.client import (
    TOKEN_2022_PROGRAM_ID,
    ChargeRecord,
    Tag,
    add_attestor,
    charger_id_hash,
    config_address,
    config_pda,
    initialize,
    mint_authority_address,
    mint_authority_pda,
    record_charge,
    remove_attestor,
    session_address,
    session_id_hash,
    session_pda,
    set_admin,
    set_paused,
    update_rates,
)
from programs.proof_of_charge.errors import PocError, custom_error_code, poc_error
from programs.proof_of_charge.state import (
    CONFIG_SIZE,
    SESSION_SIZE,
    AccountLayoutError,
    ConfigState,
    SessionState,
)

PROGRAM_DIR = Path(__file__).resolve().parent
SOURCE = PROGRAM_DIR / "proof_of_charge.c"


def build(out_dir: Path | None = None) -> Path:
    """Builds proof_of_charge.so (cached by source hash) and returns its path."""
    from programs.sbpf.build import BUILD_DIR, build_program

    return build_program(PROGRAM_DIR, BUILD_DIR if out_dir is None else out_dir)


__all__ = [
    "CONFIG_SIZE",
    "DEFAULT_MINT_RATE_RAW_PER_KWH",
    "REWARDS_POOL_RAW",
    "SESSION_SIZE",
    "SOURCE",
    "TOKEN_2022_PROGRAM_ID",
    "TOTAL_SUPPLY_RAW",
    "AccountLayoutError",
    "ChargeRecord",
    "ConfigState",
    "MintAmounts",
    "PocError",
    "Rates",
    "RewardClass",
    "SessionState",
    "Tag",
    "add_attestor",
    "build",
    "charger_id_hash",
    "config_address",
    "config_pda",
    "custom_error_code",
    "initialize",
    "mint_amounts",
    "mint_authority_address",
    "mint_authority_pda",
    "poc_error",
    "record_charge",
    "remove_attestor",
    "session_address",
    "session_id_hash",
    "session_pda",
    "set_admin",
    "set_paused",
    "update_rates",
    "would_exceed_cap",
]
