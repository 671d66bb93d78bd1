"""The ledger, as the central system sees it: send a transaction, read accounts.

Two backends implement :class:`Ledger`: the in-process LiteSVM (the embedded default, nothing to
start) and JSON-RPC (``solana-test-validator``, ``evch validator``, devnet, mainnet). Callers
build instructions with ``programs/`` and never see which backend runs them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from programs.spl.token2022 import parse_token_account

# The most a transaction may take on the wire (a cluster refuses more; LiteSVM would not).
PACKET_DATA_SIZE = 1232


class TransactionTooLarge(ValueError):
    """More instructions than one transaction can carry: split them."""


class LedgerUnavailable(Exception):
    """The ledger could not be reached; nothing is known to have happened: retry later."""


@dataclass(frozen=True)
class TxResult:
    """What became of one transaction."""

    signature: str
    ok: bool
    compute_units: int
    logs: tuple[str, ...]
    error: str | None = None  # the ledger's own words, e.g. "InstructionError(0, Custom(3))"
    instruction_index: int | None = None  # which instruction failed
    custom_error: int | None = None  # a program's own error code, when it gave one
    slot: int | None = None


class Ledger(Protocol):
    name: str

    async def send(
        self, instructions: Sequence[Instruction], payer: Keypair, signers: Sequence[Keypair] = ()
    ) -> TxResult:
        """Sign with ``payer`` (the fee payer) and ``signers``, submit, wait until it is final."""
        ...

    async def account_data(self, address: Pubkey) -> bytes | None: ...
    async def lamports(self, address: Pubkey) -> int: ...
    async def fund(self, address: Pubkey, lamports: int) -> None:
        """Give an address lamports (an airdrop: local and test ledgers only)."""
        ...

    async def rent_exempt_minimum(self, size: int) -> int: ...
    async def close(self) -> None: ...


def signing_keys(payer: Keypair, signers: Sequence[Keypair]) -> list[Keypair]:
    """The fee payer first, then the other signers, each once."""
    return [payer, *(s for s in signers if s.pubkey() != payer.pubkey())]


def wire_bytes(transaction: Transaction) -> bytes:
    """The transaction as sent; TransactionTooLarge where a cluster would refuse its size."""
    wire = bytes(transaction)
    if len(wire) > PACKET_DATA_SIZE:
        raise TransactionTooLarge(f"{len(wire)} bytes, a transaction carries {PACKET_DATA_SIZE}")
    return wire


async def token_amount(ledger: Ledger, token_account: Pubkey) -> int | None:
    """A token account's balance in raw units, or None when the account does not exist."""
    data = await ledger.account_data(token_account)
    if data is None:
        return None
    return parse_token_account(data).amount


_INDEX = re.compile(r"InstructionError\(\(?\s*(\d+)")
_CUSTOM = re.compile(r"Custom\((\d+)\)")


def failure(text: str) -> tuple[int | None, int | None]:
    """(instruction index, custom error code) from a transaction error, where it says them."""
    index, custom = _INDEX.search(text), _CUSTOM.search(text)
    return (
        int(index.group(1)) if index else None,
        int(custom.group(1)) if custom else None,
    )
