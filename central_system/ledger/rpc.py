"""A ledger behind the standard Solana JSON-RPC: ``solana-test-validator``, ``evch validator``,
devnet or mainnet, through solana-py's ``AsyncClient``.

A transaction is checked by the node first (preflight): one that would fail is refused there
and never lands, so its result comes from the simulation, with its logs and units. One that
passes is sent, then confirmed, then read back for its logs and compute units.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.transaction import Transaction

from central_system.ledger.base import (
    LedgerUnavailable,
    TxResult,
    failure,
    signing_keys,
    wire_bytes,
)

# Where the node cannot be reached (solana-py wraps its HTTP errors): the transaction may be
# retried.
_UNREACHABLE = (SolanaRpcException, httpx.HTTPError, OSError)


class RpcLedger:
    name = "rpc"

    def __init__(self, url: str, *, confirm_poll_s: float = 0.05) -> None:
        self.url = url
        self._client = AsyncClient(url, commitment=Confirmed)
        self._poll_s = confirm_poll_s

    async def send(
        self, instructions: Sequence[Instruction], payer: Keypair, signers: Sequence[Keypair] = ()
    ) -> TxResult:
        keys = signing_keys(payer, signers)
        with self._reachable():
            blockhash = (await self._client.get_latest_blockhash()).value.blockhash
            transaction = Transaction(keys, Message(list(instructions), payer.pubkey()), blockhash)
            signature = transaction.signatures[0]
            wire = wire_bytes(transaction)
            try:
                await self._client.send_raw_transaction(
                    wire, TxOpts(preflight_commitment=Confirmed)
                )
            except RPCException as error:
                return _refused(str(signature), error)
            await self._client.confirm_transaction(signature, Confirmed, sleep_seconds=self._poll_s)
            landed = await self._client.get_transaction(
                signature, "json", Confirmed, max_supported_transaction_version=0
            )
        if landed.value is None:
            raise LedgerUnavailable(f"{self.url}: transaction {signature} confirmed but not found")
        meta = landed.value.transaction.meta
        error = None if meta.err is None else str(meta.err)
        index, custom = failure(error) if error else (None, None)
        return TxResult(
            str(signature),
            meta.err is None,
            meta.compute_units_consumed or 0,
            tuple(meta.log_messages or ()),
            error,
            index,
            custom,
            landed.value.slot,
        )

    async def account_data(self, address: Pubkey) -> bytes | None:
        with self._reachable():
            account = (await self._client.get_account_info(address)).value
        return None if account is None else bytes(account.data)

    async def lamports(self, address: Pubkey) -> int:
        with self._reachable():
            return (await self._client.get_balance(address)).value

    async def fund(self, address: Pubkey, lamports: int) -> None:
        with self._reachable():
            signature = (await self._client.request_airdrop(address, lamports)).value
            await self._client.confirm_transaction(signature, Confirmed, sleep_seconds=self._poll_s)

    async def rent_exempt_minimum(self, size: int) -> int:
        with self._reachable():
            return (await self._client.get_minimum_balance_for_rent_exemption(size)).value

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """The node could not be reached: LedgerUnavailable, to be retried later."""
        try:
            yield
        except _UNREACHABLE as error:
            raise LedgerUnavailable(f"{self.url}: {error}") from error

    async def close(self) -> None:
        await self._client.close()


def _refused(signature: str, error: RPCException) -> TxResult:
    """A transaction the node's preflight simulation refused: it never landed."""
    detail = error.args[0] if error.args else None
    if isinstance(detail, SendTransactionPreflightFailureMessage):
        simulated = detail.data
        text = str(simulated.err)
        index, custom = failure(text)
        return TxResult(
            signature,
            False,
            simulated.units_consumed or 0,
            tuple(simulated.logs or ()),
            text,
            index,
            custom,
        )
    return TxResult(signature, False, 0, (), str(detail))
