"""The tuner's parameter controls, made from the model's own fields so they never drift from it.

Each parameter set (A, B) lives in session state as validated :class:`TokenomicsParams`; its
widgets show it and every edit makes a new validated copy. Loading a set (a file, a
calibration, a copy of the other set) bumps the set's version, which is part of every widget
key, so the widgets start again from the loaded values.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from pydantic import BaseModel, ValidationError

from twin.tokenomics.params import Allocation, StakingTier, TokenomicsParams

SECTIONS = ("demand", "minting", "usage", "staking", "market", "peg", "simulation")
SETS = ("A", "B")


def params_of(name: str) -> TokenomicsParams:
    return st.session_state.setdefault(f"tuner:{name}", TokenomicsParams())


def load(name: str, params: TokenomicsParams) -> None:
    """Replace set ``name`` and start its widgets again from it."""
    st.session_state[f"tuner:{name}"] = params
    key = f"tuner:{name}:version"
    st.session_state[key] = st.session_state.get(key, 0) + 1


def numeric_paths(params: TokenomicsParams) -> list[str]:
    """Every number of the model by dotted path: what a sweep may vary."""
    paths = ["cap_evch"]
    for section in SECTIONS:
        for field, value in getattr(params, section):
            if isinstance(value, int | float) and not isinstance(value, bool):
                paths.append(f"{section}.{field}")
    for name, allocation in params.allocations.items():
        paths += [f"allocations.{name}.{field}" for field in type(allocation).model_fields]
    for i, tier in enumerate(params.staking.tiers):
        paths += [f"staking.tiers.{i}.{field}" for field in type(tier).model_fields]
    return paths


def edit(name: str) -> TokenomicsParams:
    """Controls for set ``name``; returns it as edited (unchanged while an edit is invalid)."""
    params = params_of(name)
    prefix = f"{name}:{st.session_state.get(f'tuner:{name}:version', 0)}"
    changes: dict[str, Any] = {}
    changes["cap_evch"] = st.number_input(
        "cap (EVCH)", value=params.cap_evch, min_value=1.0, format="%.0f", key=f"{prefix}:cap"
    )
    with st.expander("Allocations: share of the cap, unlock at launch, cliff, vesting"):
        changes["allocations"] = _allocations(params, prefix)
    for section in SECTIONS:
        with st.expander(section.capitalize(), expanded=section == "demand"):
            changes |= _section(params, section, prefix)
            if section == "staking":
                changes["staking.tiers"] = _tiers(params, prefix)
    try:
        edited = params.replace(changes)
    except (ValidationError, ValueError) as error:
        st.error(f"Set {name} keeps its last valid values: {_reason(error)}")
        return params
    st.session_state[f"tuner:{name}"] = edited
    return edited


def _section(params: TokenomicsParams, section: str, prefix: str) -> dict[str, Any]:
    model: BaseModel = getattr(params, section)
    changes = {}
    for field, value in model:
        path = f"{section}.{field}"
        label = field.replace("_", " ")
        key = f"{prefix}:{path}"
        if isinstance(value, bool):
            changes[path] = st.checkbox(label, value=value, key=key)
        elif isinstance(value, int):
            changes[path] = int(st.number_input(label, value=value, step=1, key=key))
        elif isinstance(value, float):
            changes[path] = st.number_input(label, value=value, format="%g", key=key)
        elif isinstance(value, str):
            changes[path] = st.text_input(label, value=value, key=key)
    return changes


def _allocations(params: TokenomicsParams, prefix: str) -> dict[str, dict]:
    table = pd.DataFrame({name: a.model_dump() for name, a in params.allocations.items()}).T
    edited = st.data_editor(
        table,
        key=f"{prefix}:allocations",
        num_rows="fixed",
        column_config={field: st.column_config.NumberColumn(format="%g") for field in table},
        width="stretch",
    )
    st.caption(
        "user_rewards and operators are minted by energy (their schedule caps what may be "
        "minted by a date); liquidity seeds the pool and the treasury; the rest vests to holders."
    )
    fields = Allocation.model_fields
    return {name: {f: row[f] for f in fields} for name, row in edited.iterrows()}


def _tiers(params: TokenomicsParams, prefix: str) -> list[dict]:
    st.markdown("Staking tiers (the tier's discount is off the charging price)")
    fields = list(StakingTier.model_fields)
    table = pd.DataFrame([tier.model_dump() for tier in params.staking.tiers], columns=fields)
    edited = st.data_editor(
        table,
        key=f"{prefix}:tiers",
        num_rows="dynamic",
        column_config={"lock_days": st.column_config.NumberColumn(format="%d", min_value=1)},
        width="stretch",
    )
    rows = edited.dropna(how="all").to_dict("records")
    # Whole days; a row still being typed in stays as it is and fails validation, named.
    return [
        {
            **row,
            "lock_days": row["lock_days"] if pd.isna(row["lock_days"]) else int(row["lock_days"]),
        }
        for row in rows
    ]


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'parameters'}: {e['msg']}"
            for e in error.errors()
        )
    return str(error)
