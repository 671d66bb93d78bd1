"""/api/v1/token/admin: the mint's configuration, pausing Proof-of-Charge, its rates, burning
from a holder and the withheld fees: changes for the admin only, the config and the fees read
by analysts and regulators too (see api/auth.py). (Supply, clawback and settlements are in
routes/tokens.py.)

An operation the ledger refuses is recorded as a failed token transaction and answered with 409:
the program's error name in the message, the recorded row in ``details.transaction``. An
unreachable ledger is 503 (api/deps.py: what happened is not known; read the config or fees
again).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from central_system.api.admin_schemas import (
    BurnRequest,
    FeesWithdrawRequest,
    MintConfigPublic,
    PauseRequest,
    RatesUpdate,
    WithheldFeesPublic,
)
from central_system.api.auth import DENIED, Admin, Audit
from central_system.api.deps import TokenAdminDep
from central_system.api.schemas import TokenTransactionPublic
from central_system.domain.tokens import TokenTransaction, TokenTxStatus
from central_system.errors import Conflict

router = APIRouter(
    prefix="/token/admin",
    tags=["token admin"],
    responses=DENIED | {503: {}},
)
REFUSABLE = {409: {"description": "the ledger refused it; the failed row is in the details"}}


def _outcome(row: TokenTransaction) -> TokenTransactionPublic:
    public = TokenTransactionPublic.of(row)
    if row.status is TokenTxStatus.FAILED:
        raise Conflict(row.error or "refused", transaction=public.model_dump(mode="json"))
    return public


@router.get("/config", response_model=MintConfigPublic, dependencies=[Audit])
async def mint_config(admin: TokenAdminDep):
    """The mint (supply, authorities, transfer fee, metadata) and the Proof-of-Charge config
    (admin, attestors, rates, paused, counters), read on chain."""
    return await admin.mint_config()


@router.put(
    "/rates",
    response_model=TokenTransactionPublic,
    dependencies=[Admin],
    responses=REFUSABLE | {422: {}},
)
async def update_rates(body: RatesUpdate, admin: TokenAdminDep):
    """New Proof-of-Charge rates for sessions recorded from now on (fields left out keep
    their value). A rewards cap below the rewards already minted is refused (OVER_CAP)."""
    try:
        rates = body.applied_to(await admin.rates())
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    return _outcome(await admin.update_rates(rates, body.reason))


@router.post(
    "/pause", response_model=TokenTransactionPublic, dependencies=[Admin], responses=REFUSABLE
)
async def pause(body: PauseRequest, admin: TokenAdminDep):
    """Stop Proof-of-Charge: the program refuses every record until resumed; the sessions that
    end meanwhile wait in the outbox (blocked)."""
    return _outcome(await admin.set_paused(True, body.reason))


@router.post(
    "/resume", response_model=TokenTransactionPublic, dependencies=[Admin], responses=REFUSABLE
)
async def resume(body: PauseRequest, admin: TokenAdminDep):
    """Record sessions again, first those that waited during the pause."""
    return _outcome(await admin.set_paused(False, body.reason))


@router.post(
    "/burn",
    response_model=TokenTransactionPublic,
    dependencies=[Admin],
    responses=REFUSABLE | {404: {}},
)
async def burn(body: BurnRequest, admin: TokenAdminDep):
    """Burn from a holder's account (the mint's permanent delegate), frozen or not."""
    return _outcome(await admin.burn(body.owner_ref, body.amount_raw, body.reason))


@router.get("/fees", response_model=WithheldFeesPublic, dependencies=[Audit])
async def withheld_fees(admin: TokenAdminDep):
    """Transfer fees not yet withdrawn, in the mint and on the accounts, and the treasury."""
    return await admin.withheld_fees()


@router.post(
    "/fees/withdraw",
    response_model=TokenTransactionPublic,
    dependencies=[Admin],
    responses=REFUSABLE,
)
async def withdraw_fees(body: FeesWithdrawRequest, admin: TokenAdminDep):
    """Harvest every withheld fee and move it to the treasury; the amount is what arrived."""
    return _outcome(await admin.withdraw_fees(body.reason))
