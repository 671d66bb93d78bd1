"""The audit checked against a live ledger (JSON-RPC) instead of the run's ledger.jsonl: each
session's Proof-of-Charge account, which the program writes once per session, must hold the
verified energy and the expected amounts, and unverified sessions must have none."""

from __future__ import annotations

import dataclasses

from solders.pubkey import Pubkey

from central_system.ledger import RpcLedger
from programs import proof_of_charge as poc
from twin.replay.audit import Audit, SessionAudit


async def check_live(audit: Audit, rpc_url: str, proof_of_charge: str) -> Audit:
    ledger = RpcLedger(rpc_url)
    program = Pubkey.from_string(proof_of_charge)
    sessions = []
    for session in audit.sessions:
        if session.session_id is None:
            sessions.append(session)
            continue
        address = poc.session_address(program, poc.session_id_hash(session.session_id))
        data = await ledger.account_data(address)
        found = _compare(session, None if data is None else poc.SessionState.parse(data))
        sessions.append(dataclasses.replace(session, differences=(*session.differences, *found)))
    return dataclasses.replace(audit, sessions=tuple(sessions))


def _compare(session: SessionAudit, state: poc.SessionState | None) -> list[str]:
    name = f"{session.charger_id} transaction {session.transaction_ref}"
    if session.verified_energy_wh is None:
        return (
            [f"{name}: the live ledger holds a Proof-of-Charge for unverified energy"]
            if state
            else []
        )
    if state is None:
        if session.minted_raw is not None:
            return [f"{name}: minted in ledger.jsonl, no Proof-of-Charge on the live ledger"]
        return []
    found = []
    if state.energy_wh != session.verified_energy_wh:
        found.append(
            f"{name}: the live ledger recorded {state.energy_wh} Wh, the signed readings prove "
            f"{session.verified_energy_wh}"
        )
    if session.expected_mint_raw and state.amounts.total_raw != session.expected_mint_raw:
        found.append(
            f"{name}: the live ledger minted {state.amounts.total_raw} raw, expected "
            f"{session.expected_mint_raw}"
        )
    return found
