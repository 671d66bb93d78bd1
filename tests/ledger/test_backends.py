"""One flow on both ledger backends: the embedded LiteSVM and JSON-RPC through `evch validator`
(LiteSVM behind the standard Solana JSON-RPC, reached by solana-py's AsyncClient over HTTP).

The same transactions give the same outcomes, balances, program logs and compute units; the
RPC path also behaves like a validator where the embedded one would not (size limit, preflight,
a signature sent twice)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import Transaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID
from spl.token.instructions import initialize_account3, initialize_mint2, mint_to
from spl.token.models import InitializeAccount3Params, InitializeMint2Params, MintToParams

from central_system.ledger import (
    EmbeddedLedger,
    LedgerUnavailable,
    RpcLedger,
    TransactionTooLarge,
    token_amount,
)
from programs.localnet import LocalnetServer

MINT_SIZE, ACCOUNT_SIZE = 82, 165
SOL = 1_000_000_000


@pytest.fixture
async def localnet():
    async with LocalnetServer() as server:
        yield server


async def flow(ledger) -> dict:
    """Accounts, a Token-2022 mint and a mint to it, and a transfer that cannot be paid."""
    payer, receiver, mint, holder = Keypair(), Keypair(), Keypair(), Keypair()
    await ledger.fund(payer.pubkey(), 10 * SOL)
    results = {}
    rent = await ledger.rent_exempt_minimum(0)
    results["transfer"] = await ledger.send(
        [
            transfer(
                TransferParams(
                    from_pubkey=payer.pubkey(), to_pubkey=receiver.pubkey(), lamports=rent
                )
            )
        ],
        payer,
    )
    mint_rent = await ledger.rent_exempt_minimum(MINT_SIZE)
    account_rent = await ledger.rent_exempt_minimum(ACCOUNT_SIZE)
    results["mint"] = await ledger.send(
        [
            create_account(
                CreateAccountParams(
                    from_pubkey=payer.pubkey(),
                    to_pubkey=mint.pubkey(),
                    lamports=mint_rent,
                    space=MINT_SIZE,
                    owner=TOKEN_2022_PROGRAM_ID,
                )
            ),
            initialize_mint2(
                InitializeMint2Params(
                    decimals=6,
                    program_id=TOKEN_2022_PROGRAM_ID,
                    mint=mint.pubkey(),
                    mint_authority=payer.pubkey(),
                    freeze_authority=None,
                )
            ),
            create_account(
                CreateAccountParams(
                    from_pubkey=payer.pubkey(),
                    to_pubkey=holder.pubkey(),
                    lamports=account_rent,
                    space=ACCOUNT_SIZE,
                    owner=TOKEN_2022_PROGRAM_ID,
                )
            ),
            initialize_account3(
                InitializeAccount3Params(
                    program_id=TOKEN_2022_PROGRAM_ID,
                    account=holder.pubkey(),
                    mint=mint.pubkey(),
                    owner=receiver.pubkey(),
                )
            ),
            mint_to(
                MintToParams(
                    program_id=TOKEN_2022_PROGRAM_ID,
                    mint=mint.pubkey(),
                    dest=holder.pubkey(),
                    mint_authority=payer.pubkey(),
                    amount=12_345_678,
                    signers=[],
                )
            ),
        ],
        payer,
        [mint, holder],
    )
    results["overdraft"] = await ledger.send(
        [
            transfer(
                TransferParams(
                    from_pubkey=payer.pubkey(), to_pubkey=receiver.pubkey(), lamports=100 * SOL
                )
            )
        ],
        payer,
    )
    balances = {
        "receiver": await ledger.lamports(receiver.pubkey()),
        "tokens": await token_amount(ledger, holder.pubkey()),
        "nobody": await ledger.account_data(Pubkey.new_unique()),
    }
    return {"results": results, "balances": balances}


async def test_the_same_flow_gives_the_same_results_on_both_backends(localnet):
    embedded = await flow(EmbeddedLedger())
    rpc_ledger = RpcLedger(localnet.url)
    try:
        over_rpc = await flow(rpc_ledger)
    finally:
        await rpc_ledger.close()
    assert embedded["balances"] == over_rpc["balances"]
    assert embedded["balances"]["tokens"] == 12_345_678
    for name, result in embedded["results"].items():
        other = over_rpc["results"][name]
        assert (result.ok, result.instruction_index, result.custom_error) == (
            other.ok,
            other.instruction_index,
            other.custom_error,
        ), name
        assert result.compute_units == other.compute_units > 0, name
        assert result.logs == other.logs, name
    overdraft = embedded["results"]["overdraft"]
    assert (
        not overdraft.ok and overdraft.custom_error == 1
    )  # the System program's InsufficientFunds
    assert any("insufficient lamports" in line for line in overdraft.logs)
    assert embedded["results"]["mint"].ok


async def test_the_validator_refuses_what_a_cluster_refuses(localnet):
    """Over-size transactions, failing ones at preflight (never landed), duplicates."""
    ledger = RpcLedger(localnet.url)
    payer = Keypair()
    try:
        await ledger.fund(payer.pubkey(), SOL)
        many = [
            transfer(
                TransferParams(
                    from_pubkey=payer.pubkey(), to_pubkey=Pubkey.new_unique(), lamports=1
                )
            )
            for _ in range(40)
        ]
        with pytest.raises(TransactionTooLarge):
            await ledger.send(many, payer)
        with pytest.raises(TransactionTooLarge):
            await EmbeddedLedger().send(many, payer)
        refused = await ledger.send(
            [
                transfer(
                    TransferParams(
                        from_pubkey=payer.pubkey(), to_pubkey=Pubkey.new_unique(), lamports=2 * SOL
                    )
                )
            ],
            payer,
        )
        assert not refused.ok and refused.custom_error == 1 and refused.logs
        assert refused.slot is None  # refused at preflight: it never landed
        statuses = localnet.validator.call("getSignatureStatuses", [[refused.signature]])
        assert statuses["value"] == [None]
    finally:
        await ledger.close()

    # The raw JSON-RPC, as any client sees it: a transaction sent twice is AlreadyProcessed.
    validator = localnet.validator
    async with httpx.AsyncClient(base_url=localnet.url) as http:

        async def call(method, *params):
            reply = await http.post(
                "/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
            )
            return reply.json()

        blockhash = (await call("getLatestBlockhash"))["result"]["value"]["blockhash"]
        receiver = Pubkey.new_unique()
        rent = validator.svm.minimum_balance_for_rent_exemption(0)
        tx = Transaction(
            [payer],
            Message(
                [
                    transfer(
                        TransferParams(
                            from_pubkey=payer.pubkey(), to_pubkey=receiver, lamports=rent
                        )
                    )
                ],
                payer.pubkey(),
            ),
            Hash.from_string(blockhash),
        )
        wire = base64.b64encode(bytes(tx)).decode()
        first = await call("sendTransaction", wire, {"encoding": "base64"})
        again = await call("sendTransaction", wire, {"encoding": "base64"})
        assert first["result"] == str(tx.signatures[0])
        assert (
            again["error"]["code"] == -32002 and again["error"]["data"]["err"] == "AlreadyProcessed"
        )
        status = (await call("getSignatureStatuses", [first["result"]]))["result"]["value"][0]
        assert status["confirmationStatus"] == "finalized" and status["err"] is None
        assert (await call("getBalance", str(receiver)))["result"]["value"] == rent
        assert (await call("noSuchMethod"))["error"]["code"] == -32601
        stale = Transaction(
            [payer],
            Message(
                [
                    transfer(
                        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=receiver, lamports=1)
                    )
                ],
                payer.pubkey(),
            ),
            Hash.new_unique(),
        )
        unknown = await call(
            "sendTransaction", base64.b64encode(bytes(stale)).decode(), {"encoding": "base64"}
        )
        assert unknown["error"]["data"]["err"] == "BlockhashNotFound"
        assert json.dumps(unknown)  # a plain JSON answer


async def test_an_unreachable_ledger_says_so():
    ledger = RpcLedger("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        with pytest.raises(LedgerUnavailable):
            await ledger.send([], Keypair())
    finally:
        await ledger.close()
