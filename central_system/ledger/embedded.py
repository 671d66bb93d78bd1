"""The embedded ledger: LiteSVM in this process (the default: nothing to start).

LiteSVM runs a transaction to completion inside ``send_transaction``, so a result is final at
once. It differs from a validator in ways callers must not rely on (it accepts only its
latest blockhash and records a failed transaction as processed): each send takes a fresh
blockhash, so that two identical transactions are two transactions.
"""

from __future__ import annotations

from collections.abc import Sequence

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from central_system.clock import Clock
from central_system.ledger.base import TxResult, failure, signing_keys, wire_bytes


class EmbeddedLedger:
    name = "litesvm"

    def __init__(self, svm: LiteSVM | None = None, clock: Clock | None = None) -> None:
        """``clock``: the time programs read from the Clock sysvar (LiteSVM's own starts at
        1970); given, it is set before each transaction, so lockups follow the run's time."""
        self.svm = svm if svm is not None else LiteSVM()
        self._clock = clock

    async def send(
        self, instructions: Sequence[Instruction], payer: Keypair, signers: Sequence[Keypair] = ()
    ) -> TxResult:
        self.svm.expire_blockhash()
        if self._clock is not None:
            sysvar = self.svm.get_clock()
            sysvar.unix_timestamp = int(self._clock.now().timestamp())
            self.svm.set_clock(sysvar)
        message = Message(list(instructions), payer.pubkey())
        transaction = Transaction(
            signing_keys(payer, signers), message, self.svm.latest_blockhash()
        )
        wire_bytes(transaction)  # LiteSVM would run an over-size one; a cluster would not
        outcome = self.svm.send_transaction(transaction)
        slot = self.svm.get_clock().slot
        if hasattr(outcome, "err"):  # FailedTransactionMetadata
            meta, error = outcome.meta(), str(outcome.err())
            index, custom = failure(error)
            return TxResult(
                str(meta.signature()),
                False,
                meta.compute_units_consumed(),
                tuple(meta.logs()),
                error,
                index,
                custom,
                slot,
            )
        return TxResult(
            str(outcome.signature()),
            True,
            outcome.compute_units_consumed(),
            tuple(outcome.logs()),
            slot=slot,
        )

    async def account_data(self, address: Pubkey) -> bytes | None:
        account = self.svm.get_account(address)
        return None if account is None else bytes(account.data)

    async def lamports(self, address: Pubkey) -> int:
        return self.svm.get_balance(address) or 0

    async def fund(self, address: Pubkey, lamports: int) -> None:
        self.svm.airdrop(address, lamports)

    async def rent_exempt_minimum(self, size: int) -> int:
        return self.svm.minimum_balance_for_rent_exemption(size)

    async def close(self) -> None:
        """Nothing to release: the ledger lives as long as this object."""
