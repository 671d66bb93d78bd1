"""EVCH in a twin run: the embedded ledger with every transaction recorded, simulated KYC, the
drivers' wallets, and the reconciliation of what was minted with what was charged.

The ledger is real (LiteSVM running the project's programs); only the KYC provider is
simulated, because a real one cannot exist here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from solders.instruction import Instruction
from solders.keypair import Keypair

from central_system.clock import Clock
from central_system.domain.model import ChargingSession, SessionState, Verification
from central_system.domain.tokens import Settlement, TokenTxKind, TokenTxStatus
from central_system.ledger import EmbeddedLedger, TxResult
from central_system.tokens.rewards import NO_REWARDS
from central_system.tokens.service import KycDecision, TokenService
from ocppj.wire import to_wire_time
from programs import proof_of_charge as poc
from programs.spl.token2022 import parse_mint, parse_token_account


class SimulatedKyc:
    """Approves a share of the drivers, chosen by a hash of the seed and the driver's id, so the
    outcome does not depend on the order drivers are checked in."""

    def __init__(self, seed: int, approval_share: float) -> None:
        self._seed, self._share = seed, approval_share

    async def check(self, owner_ref: str) -> KycDecision:
        digest = hashlib.sha256(f"{self._seed}:{owner_ref}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw < self._share:
            return KycDecision(True)
        return KycDecision(False, "simulated: documents not accepted")


class RecordingLedger(EmbeddedLedger):
    """The embedded ledger, writing every transaction to ``ledger.jsonl`` as it is sent."""

    def __init__(self, path: Path, clock: Clock) -> None:
        super().__init__(clock=clock)
        self._file: IO[str] = open(path, "w", encoding="utf-8")
        self.transactions = 0

    async def send(
        self, instructions: Sequence[Instruction], payer: Keypair, signers: Sequence[Keypair] = ()
    ) -> TxResult:
        result = await super().send(instructions, payer, signers)
        self.transactions += 1
        record = {
            "t": to_wire_time(self._clock.now()),
            "signature": result.signature,
            "ok": result.ok,
            "error": result.error,
            "compute_units": result.compute_units,
            "slot": result.slot,
            "instructions": [
                {
                    "program": str(ix.program_id),
                    "accounts": [str(meta.pubkey) for meta in ix.accounts],
                    "data": base64.b64encode(bytes(ix.data)).decode(),
                }
                for ix in instructions
            ],
            "logs": list(result.logs),
        }
        self._file.write(json.dumps(record) + "\n")
        return result

    async def close(self) -> None:
        self._file.close()


@dataclass
class Reconciliation:
    """Minted on chain against what the sessions earn, to the raw unit."""

    sessions_minted: int = 0
    sessions_blocked: int = 0
    minted_raw: int = 0
    expected_raw: int = 0
    rewards_raw: int = 0  # off-peak and renewable rewards, within the expected amount
    green_credit_raw: int = 0  # Green Credits expected for the renewable energy
    sessions_unverified: int = 0  # their meter's signatures do not prove the energy
    sessions_paid: int = 0  # paid in EVCH
    paid_raw: int = 0  # what the drivers sent, fees included
    fees_raw: int = 0  # withheld on the operator's account
    differences: list[str] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        return {
            "sessions_minted": self.sessions_minted,
            "sessions_blocked": self.sessions_blocked,
            "sessions_unverified": self.sessions_unverified,
            "minted_raw": self.minted_raw,
            "expected_raw": self.expected_raw,
            "rewards_raw": self.rewards_raw,
            "green_credit_raw": self.green_credit_raw,
            "sessions_paid": self.sessions_paid,
            "paid_raw": self.paid_raw,
            "fees_raw": self.fees_raw,
            "reconciled": self.reconciled,
            "differences": self.differences,
        }


async def reconcile(
    tokens: TokenService, sessions: list[ChargingSession], payments: list[Settlement]
) -> Reconciliation:
    """Each driver's and the operator's balance, and the program's counters, against the
    amounts the on-chain rates give for the completed sessions that were minted, less what
    drivers paid in EVCH (to the operator, the fee withheld on its account)."""
    ledger, deployment = tokens.ledger, tokens.deployment
    config = await tokens.program_config()
    rows = {
        r.session_id: r
        for r in await tokens.transactions()
        if r.kind is TokenTxKind.PROOF_OF_CHARGE
    }
    outcome = Reconciliation()
    per_driver: dict[str, int] = defaultdict(int)
    operator = verified_wh = 0
    for session in sessions:
        if session.state is not SessionState.COMPLETED or not session.energy_wh:
            continue
        status = rows[session.session_id].status if session.session_id in rows else None
        if session.verification is not Verification.VERIFIED:
            outcome.sessions_unverified += 1
            if status is not None:
                outcome.differences.append(
                    f"session {session.session_id}: unverified energy sent to the ledger"
                )
            continue
        if status is TokenTxStatus.BLOCKED:  # the driver's KYC is not approved
            outcome.sessions_blocked += 1
            continue
        if status is not TokenTxStatus.CONFIRMED:
            outcome.differences.append(f"session {session.session_id}: not minted")
            continue
        rewards = await tokens.rewards.rewards(session) if tokens.rewards else NO_REWARDS
        energy_wh = session.verified_energy_wh
        amounts = poc.mint_amounts(config.rates, energy_wh, rewards.reward_class)
        outcome.rewards_raw += amounts.reward_raw
        outcome.green_credit_raw += rewards.green_credit_raw
        outcome.sessions_minted += 1
        per_driver[session.id_token] += amounts.driver_total_raw
        operator += amounts.operator_raw
        verified_wh += energy_wh
        outcome.expected_raw += amounts.driver_total_raw + amounts.operator_raw
    drivers = {session.session_id: session.id_token for session in sessions}
    for paid in payments:
        per_driver[drivers[paid.session_id]] -= paid.gross_raw
        operator += paid.net_raw
        outcome.sessions_paid += 1
        outcome.paid_raw += paid.gross_raw
        outcome.fees_raw += paid.fee_raw
    for owner, expected in sorted(per_driver.items()):
        held = await tokens.balance_raw(owner)
        if held != expected:
            outcome.differences.append(f"driver {owner}: holds {held} raw, expected {expected}")
    account = parse_token_account(await ledger.account_data(deployment.operator_account))
    if account.amount != operator:
        outcome.differences.append(f"operator: holds {account.amount} raw, expected {operator}")
    if (account.withheld_amount or 0) != outcome.fees_raw:
        outcome.differences.append(
            f"operator: {account.withheld_amount} raw of fees withheld, payments paid "
            f"{outcome.fees_raw}"
        )
    outcome.minted_raw = config.minted_total_raw
    if config.minted_total_raw != outcome.expected_raw:
        outcome.differences.append(
            f"program minted {config.minted_total_raw} raw, sessions earn {outcome.expected_raw}"
        )
    green = parse_mint(await ledger.account_data(deployment.green_mint)).supply
    if green != outcome.green_credit_raw:
        outcome.differences.append(
            f"Green Credit supply {green} raw, renewable energy earns {outcome.green_credit_raw}"
        )
    if config.verified_wh != verified_wh:
        outcome.differences.append(
            f"program verified {config.verified_wh} Wh, sessions delivered {verified_wh}"
        )
    return outcome
