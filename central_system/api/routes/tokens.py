"""/api/v1/token: EVCH balances, history and staking for holders (the operator acts for them);
supply and settlements for analysts and regulators; clawback for the admin.

Keys never leave the central system: a wallet is shown by its public key and token account.
"""

from __future__ import annotations

from fastapi import APIRouter

from central_system.api.auth import DENIED, Admin, Audit, Operate, Read
from central_system.api.deps import Payments, Tokens
from central_system.api.schemas import (
    Clawback,
    EvchQuotePublic,
    PayRequest,
    RedeemRequest,
    SettlementPublic,
    StakeRequest,
    TokenTransactionPublic,
    UnstakeRequest,
    WalletPublic,
)
from central_system.errors import NotFound

router = APIRouter(prefix="/token", tags=["token"], responses=DENIED)


async def _wallet(tokens, owner_ref: str):
    wallet = await tokens.wallet(owner_ref)
    if wallet is None:
        raise NotFound(f"{owner_ref!r} has no wallet", owner_ref=owner_ref)
    return wallet


@router.get(
    "/wallets/{owner_ref}",
    response_model=WalletPublic,
    dependencies=[Read],
    responses={404: {}, 503: {}},
)
async def get_wallet(owner_ref: str, tokens: Tokens):
    """The wallet, its EVCH balance (raw units: 1 raw = 1 mWh) and its staking discount."""
    wallet = await _wallet(tokens, owner_ref)
    return WalletPublic.of(
        wallet, await tokens.balance_raw(owner_ref), await tokens.fee_discount_bps(owner_ref)
    )


@router.get(
    "/wallets/{owner_ref}/transactions",
    response_model=list[TokenTransactionPublic],
    dependencies=[Read],
)
async def history(owner_ref: str, tokens: Tokens):
    await _wallet(tokens, owner_ref)
    return [TokenTransactionPublic.of(t) for t in await tokens.transactions(owner_ref)]


@router.post(
    "/wallets/{owner_ref}/stake", response_model=TokenTransactionPublic, dependencies=[Operate]
)
async def stake(owner_ref: str, body: StakeRequest, tokens: Tokens):
    await _wallet(tokens, owner_ref)
    return TokenTransactionPublic.of(await tokens.stake(owner_ref, body.amount_raw, body.lock_s))


@router.post(
    "/wallets/{owner_ref}/unstake", response_model=TokenTransactionPublic, dependencies=[Operate]
)
async def unstake(owner_ref: str, body: UnstakeRequest, tokens: Tokens):
    await _wallet(tokens, owner_ref)
    return TokenTransactionPublic.of(await tokens.unstake(owner_ref, body.nonce))


@router.post(
    "/wallets/{owner_ref}/redeem", response_model=TokenTransactionPublic, dependencies=[Operate]
)
async def redeem(owner_ref: str, body: RedeemRequest, tokens: Tokens):
    """Burn EVCH for a marketplace service."""
    await _wallet(tokens, owner_ref)
    return TokenTransactionPublic.of(await tokens.redeem(owner_ref, body.amount_raw, body.service))


@router.get(
    "/sessions/{session_id}/quote",
    response_model=EvchQuotePublic,
    dependencies=[Read],
    responses={404: {}, 409: {}},
)
async def quote(session_id: int, payments: Payments):
    """What the session costs in EVCH at the peg (the fee included)."""
    return EvchQuotePublic.of(session_id, await payments.quote(session_id))


@router.post(
    "/wallets/{owner_ref}/pay",
    response_model=SettlementPublic,
    dependencies=[Operate],
    responses={404: {}, 409: {}, 503: {}},
)
async def pay(owner_ref: str, body: PayRequest, payments: Payments):
    """Pay a session in EVCH: a transfer to the operator with the platform fee withheld; the
    operator is settled in fiat or USDC. 409 when it is paid already or the ledger refuses."""
    return SettlementPublic.of(await payments.pay(owner_ref, body.session_id))


@router.get(
    "/admin/settlements",
    response_model=list[SettlementPublic],
    dependencies=[Audit],
)
async def settlements(payments: Payments):
    """Every session paid in EVCH and what the operator is paid for it."""
    return [SettlementPublic.of(s) for s in await payments.settlements()]


@router.get("/admin/supply", dependencies=[Audit])
async def supply(tokens: Tokens) -> dict[str, int]:
    """The mint's supply, withheld fees and the Proof-of-Charge program's counters."""
    return await tokens.supply()


@router.post(
    "/admin/clawback",
    response_model=TokenTransactionPublic,
    dependencies=[Admin],
    responses={404: {}},
)
async def clawback(body: Clawback, tokens: Tokens):
    """Take tokens back from a holder (the mint's permanent delegate), on a regulator's
    order."""
    await _wallet(tokens, body.owner_ref)
    return TokenTransactionPublic.of(
        await tokens.clawback(body.owner_ref, body.amount_raw, body.reason)
    )
