"""Schemas of the EVCH admin routes (/api/v1/token/admin/...): public keys and amounts only,
never key material. Amounts are raw units (1 raw = 1 mWh)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from pydantic import BaseModel, Field

from programs.proof_of_charge import Rates

Reason = Annotated[str, Field(min_length=3, max_length=500)]
U64 = Annotated[int, Field(ge=0, le=2**64 - 1)]


class TransferFeePublic(BaseModel):
    basis_points: int
    maximum_fee_raw: int
    from_epoch: int
    previous_basis_points: int  # applies before from_epoch
    previous_maximum_fee_raw: int
    config_authority: str | None
    withdraw_authority: str | None
    withheld_in_mint_raw: int


class MetadataPublic(BaseModel):
    name: str
    symbol: str
    uri: str
    update_authority: str | None
    additional: dict[str, str]


class RatesPublic(BaseModel):
    mint_rate_raw_per_kwh: int
    driver_bps: int
    operator_bps: int
    off_peak_multiplier_bps: int
    renewable_multiplier_bps: int
    rewards_cap_raw: int


class ProofOfChargePublic(BaseModel):
    program: str
    config_account: str
    admin: str
    attestors: list[str]
    paused: bool
    rates: RatesPublic
    verified_wh: int
    minted_to_drivers_raw: int
    minted_to_operators_raw: int
    rewards_minted_raw: int
    rewards_left_raw: int
    sessions_recorded: int


class MintConfigPublic(BaseModel):
    mint: str
    decimals: int
    supply_raw: int
    mint_authority: str | None
    freeze_authority: str | None
    permanent_delegate: str | None
    default_account_state: str | None
    transfer_fee: TransferFeePublic
    metadata: MetadataPublic
    proof_of_charge: ProofOfChargePublic
    treasury_account: str


class RatesUpdate(BaseModel):
    """New Proof-of-Charge rates; a field left out keeps its value on chain."""

    reason: Reason
    mint_rate_raw_per_kwh: Annotated[int, Field(gt=0, le=2**64 - 1)] | None = None
    driver_bps: Annotated[int, Field(ge=0, le=10_000)] | None = None
    operator_bps: Annotated[int, Field(ge=0, le=10_000)] | None = None
    off_peak_multiplier_bps: Annotated[int, Field(ge=10_000, le=2**32 - 1)] | None = None
    renewable_multiplier_bps: Annotated[int, Field(ge=10_000, le=2**32 - 1)] | None = None
    rewards_cap_raw: U64 | None = None

    def applied_to(self, current: Rates) -> Rates:
        """The rates after this update; ValueError where they do not hold together (e.g.
        driver and operator shares above 10,000 bps)."""
        given = self.model_dump(exclude_none=True, exclude={"reason"})
        return dataclasses.replace(current, **given)


class PauseRequest(BaseModel):
    reason: Reason


class BurnRequest(BaseModel):
    owner_ref: str
    amount_raw: Annotated[int, Field(gt=0, le=2**64 - 1)]
    reason: Reason


class WithheldAccount(BaseModel):
    owner_ref: str  # the holder, or operator / staking_vault / treasury
    token_account: str
    withheld_raw: int


class WithheldFeesPublic(BaseModel):
    withheld_in_mint_raw: int  # harvested, not yet withdrawn
    withheld_in_accounts_raw: int  # still on the recipients' accounts
    withheld_total_raw: int
    accounts: list[WithheldAccount]  # those with fees withheld
    treasury_account: str
    treasury_balance_raw: int


class FeesWithdrawRequest(BaseModel):
    reason: Reason
