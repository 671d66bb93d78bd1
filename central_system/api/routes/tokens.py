"""/api/v1/token: EVCH balances, history and staking for holders; regulation for the admin.

Keys never leave the central system: a wallet is shown by its public key and token account.
"""

from __future__ import annotations

from fastapi import APIRouter

from central_system.api.deps import Admin, Payments, Tokens
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

router = APIRouter(prefix="/token", tags=["token"])


async def _wallet(tokens, owner_ref: str):
    wallet = await tokens.wallet(owner_ref)
    if wallet is None:
        raise NotFound(f"{owner_ref!r} has no wallet", owner_ref=owner_ref)
    return wallet


@router.get("/wallets/{owner_ref}", response_model=WalletPublic, responses={404: {}, 503: {}})
async def get_wallet(owner_ref: str, tokens: Tokens):
    """The wallet, its EVCH balance (raw units: 1 raw = 1 mWh) and its staking discount."""
    wallet = await _wallet(tokens, owner_ref)
    return WalletPublic.of(
        wallet, await tokens.balance_raw(owner_ref), await tokens.fee_discount_bps(owner_ref)
    )


@router.get("/wallets/{owner_ref}/transactions", response_model=list[TokenTransactionPublic])
async def history(owner_ref: str, tokens: Tokens):
    await _wallet(tokens, owner_ref)
    return [TokenTransactionPublic.of(t) for t in await tokens.transactions(owner_ref)]


@router.post("/wallets/{owner_ref}/stake", response_model=TokenTransactionPublic)
async def stake(owner_ref: str, body: StakeRequest, tokens: Tokens):
    await _wallet(tokens, owner_ref)
    return TokenTransactionPublic.of(await tokens.stake(owner_ref, body.amount_raw, body.lock_s))


@router.post("/wallets/{owner_ref}/unstake", response_model=TokenTransactionPublic)
async def unstake(owner_ref: str, body: UnstakeRequest, tokens: Tokens):
    await _wallet(tokens, owner_ref)
    return TokenTransactionPublic.of(await tokens.unstake(owner_ref, body.nonce))


@router.post("/wallets/{owner_ref}/redeem", response_model=TokenTransactionPublic)
async def redeem(owner_ref: str, body: RedeemRequest, tokens: Tokens):
    """Burn EVCH for a marketplace service."""
    await _wallet(tokens, owner_ref)
    return TokenTransactionPublic.of(await tokens.redeem(owner_ref, body.amount_raw, body.service))


@router.get(
    "/sessions/{session_id}/quote", response_model=EvchQuotePublic, responses={404: {}, 409: {}}
)
async def quote(session_id: int, payments: Payments):
    """What the session costs in EVCH at the peg (the fee included)."""
    return EvchQuotePublic.of(session_id, await payments.quote(session_id))


@router.post(
    "/wallets/{owner_ref}/pay",
    response_model=SettlementPublic,
    responses={403: {}, 404: {}, 409: {}, 503: {}},
)
async def pay(owner_ref: str, body: PayRequest, payments: Payments):
    """Pay a session in EVCH: a transfer to the operator with the platform fee withheld; the
    operator is settled in fiat or USDC. 409 when it is paid already or the ledger refuses."""
    return SettlementPublic.of(await payments.pay(owner_ref, body.session_id))


@router.get(
    "/admin/settlements",
    response_model=list[SettlementPublic],
    dependencies=[Admin],
    responses={403: {}},
)
async def settlements(payments: Payments):
    """Every session paid in EVCH and what the operator is paid for it."""
    return [SettlementPublic.of(s) for s in await payments.settlements()]


@router.get("/admin/supply", dependencies=[Admin], responses={403: {}})
async def supply(tokens: Tokens) -> dict[str, int]:
    """The mint's supply, withheld fees and the Proof-of-Charge program's counters."""
    return await tokens.supply()


@router.post(
    "/admin/clawback",
    response_model=TokenTransactionPublic,
    dependencies=[Admin],
    responses={403: {}, 404: {}},
)
async def clawback(body: Clawback, tokens: Tokens):
    """The regulator takes tokens back from a holder (the mint's permanent delegate)."""
    await _wallet(tokens, body.owner_ref)
    return TokenTransactionPublic.of(
        await tokens.clawback(body.owner_ref, body.amount_raw, body.reason)
    )
