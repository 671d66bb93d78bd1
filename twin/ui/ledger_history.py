"""A run's EVCH history for the ledger admin page, read-only: what the ledger did (ledger.jsonl,
as the loaded run holds it: `RunData.tokens`) beside what the central system stored
(csms.sqlite, through the replay's `read_csms`): each session's verified energy and what was
minted for it, the burns, the platform fees withheld and withdrawn, the sessions paid in EVCH
and the staking pool."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from central_system.domain.model import ChargingSession, Verification
from central_system.domain.tokens import Settlement, TokenTransaction, TokenTxKind, TokenTxStatus
from programs import proof_of_charge as poc
from programs.proof_of_charge.amounts import BPS_ONE
from twin.replay.csms_store import read_csms
from twin.ui.runs import RunData

SETTLEMENT_COLUMNS = [f.name for f in dataclasses.fields(Settlement)]  # as the API's
BURNS = (TokenTxKind.REDEEM, TokenTxKind.ADMIN_BURN)  # what destroys EVCH (clawback moves it)
DAY_S = 86_400
# A session's outcome on the ledger, in the order the charts list them.
MINTED, WAITING, UNVERIFIED, REFUSED, NOT_ENDED = (
    "minted",
    "waiting",
    "not verified",
    "refused",
    "not ended",
)
OUTCOMES = (MINTED, WAITING, UNVERIFIED, REFUSED, NOT_ENDED)


@dataclass(frozen=True)
class LedgerHistory:
    # session_id, charger_id, verified_kwh, minted_raw, outcome (OUTCOMES), why
    sessions: pd.DataFrame
    # What a verified kWh mints to the driver and the operator together, before rewards, at the
    # rates of the first record; None when nothing was recorded.
    base_raw_per_kwh: int | None
    burns: pd.DataFrame  # t, kind, owner_ref, amount_raw, why
    fees: pd.DataFrame  # t, withheld_raw (fee of a payment), withdrawn_raw (to the treasury)
    settlements: pd.DataFrame  # the SettlementPublic fields of the API
    stakes: pd.DataFrame  # t, owner_ref, nonce, amount_raw, lock_days, open


def read_ledger_history(run: RunData) -> LedgerHistory:
    """The history of a run that ran with tokens (``run.tokens`` is not None)."""
    csms = read_csms(run.info.path / "csms.sqlite")
    log = run.tokens.log
    minted = {
        session_hash: sum(c.minted.total_raw for c in charges if c.minted is not None)
        for session_hash, charges in log.charges.items()
    }
    first = min((c for cs in log.charges.values() for c in cs), key=lambda c: c.at, default=None)
    rows = csms.token_transactions
    return LedgerHistory(
        sessions=_sessions(csms.sessions.values(), csms.mints, minted),
        base_raw_per_kwh=None if first is None else base_raw_per_kwh(first.rates),
        burns=pd.DataFrame(
            [
                (r.created_at, r.kind.value, r.owner_ref, r.amount_raw, _why(r))
                for r in _confirmed(rows, *BURNS)
            ],
            columns=["t", "kind", "owner_ref", "amount_raw", "why"],
        ),
        fees=_fees(run, rows),
        settlements=pd.DataFrame(
            [dataclasses.astuple(s) for s in csms.settlements], columns=SETTLEMENT_COLUMNS
        ),
        stakes=_stakes(rows),
    )


def base_raw_per_kwh(rates: poc.Rates) -> int:
    """What a verified kWh mints to the driver and the operator together, before rewards."""
    return rates.mint_rate_raw_per_kwh * (rates.driver_bps + rates.operator_bps) // BPS_ONE


def _sessions(
    sessions: Iterable[ChargingSession],
    mint_rows: dict[int, TokenTransaction],
    minted: dict[bytes, int],
) -> pd.DataFrame:
    """`mint_rows`: the CSMS's mint row of each session id; `minted`: what the ledger minted
    for each session hash."""
    found = []
    for session in sorted(sessions, key=lambda s: s.session_id):
        minted_raw = minted.get(poc.session_id_hash(session.session_id))
        outcome, why = _outcome(session, mint_rows.get(session.session_id), minted_raw)
        verified_wh = session.verified_energy_wh or 0
        found.append(
            (
                session.session_id,
                session.charger_id,
                verified_wh / 1000,
                minted_raw or 0,
                outcome,
                why,
            )
        )
    return pd.DataFrame(
        found, columns=["session_id", "charger_id", "verified_kwh", "minted_raw", "outcome", "why"]
    )


def _outcome(
    session: ChargingSession, row: TokenTransaction | None, minted_raw: int | None
) -> tuple[str, str]:
    if minted_raw is not None:
        return MINTED, ""
    if session.verification is None:
        return NOT_ENDED, "the session had not ended when the run did"
    if session.verification is Verification.UNVERIFIED:
        return UNVERIFIED, session.verification_reason or "its energy did not verify"
    if row is not None and row.status is TokenTxStatus.FAILED:
        return REFUSED, row.error or "the ledger refused it"
    return WAITING, (row.error if row is not None and row.error else "not recorded yet")


def _fees(run: RunData, rows: tuple[TokenTransaction, ...]) -> pd.DataFrame:
    payments = run.tokens.payments
    withheld = [(t, fee, 0) for t, fee in zip(payments["t"], payments["fee_raw"], strict=True)]
    withdrawn = [
        (r.created_at, 0, r.amount_raw or 0) for r in _confirmed(rows, TokenTxKind.FEES_WITHDRAWN)
    ]
    frame = pd.DataFrame(withheld + withdrawn, columns=["t", "withheld_raw", "withdrawn_raw"])
    return frame.sort_values("t", ignore_index=True)


def _stakes(rows: tuple[TokenTransaction, ...]) -> pd.DataFrame:
    unstaked = {(r.owner_ref, r.detail["nonce"]) for r in _confirmed(rows, TokenTxKind.UNSTAKE)}
    return pd.DataFrame(
        [
            (
                r.created_at,
                r.owner_ref,
                r.detail["nonce"],
                r.amount_raw,
                r.detail["lock_s"] / DAY_S,
                (r.owner_ref, r.detail["nonce"]) not in unstaked,
            )
            for r in _confirmed(rows, TokenTxKind.STAKE)
        ],
        columns=["t", "owner_ref", "nonce", "amount_raw", "lock_days", "open"],
    )


def _confirmed(rows, *kinds: TokenTxKind) -> list[TokenTransaction]:
    return [r for r in rows if r.kind in kinds and r.status is TokenTxStatus.CONFIRMED]


def _why(row: TokenTransaction) -> str:
    detail = row.detail or {}
    return str(detail.get("service") or detail.get("reason") or "")
