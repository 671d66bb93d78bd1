"""Deploying a built program (.so) through the BPF Upgradeable Loader, as on a cluster.

`deploy_steps` builds the transactions (as instruction lists with their signers) and sends
nothing, so any ledger backend can send them; `deploy` sends them to a LiteSVM. The loader's
DeployWithMaxDataLen verifies the ELF with the strict checks a cluster applies to a new
deployment, so a program deployed this way would deploy to devnet or mainnet.

`load_program` is the fast path for tests where deployment is not the point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata

from programs.sbpf import loader_v3

PACKET_DATA_SIZE = 1232  # the largest serialized transaction a cluster accepts


@dataclass(frozen=True)
class DeployStep:
    """One transaction: its instructions and the keypairs that sign it besides the fee payer."""

    instructions: list[Instruction]
    signers: list[Keypair]


class TransactionFailed(Exception):
    """A transaction was refused; `err` is the runtime's error, `logs` the program logs."""

    def __init__(self, err: object, logs: Sequence[str]) -> None:
        self.err = err
        self.logs = list(logs)
        super().__init__(f"transaction failed: {err}\n" + "\n".join(self.logs))


def write_chunk_size(payer: Pubkey, buffer: Pubkey) -> int:
    """The most ELF bytes one Write transaction (fee payer = buffer authority) can carry."""

    def size(chunk_len: int) -> int:
        ix = loader_v3.write(buffer, payer, 0, bytes(chunk_len))
        message = Message.new_with_blockhash([ix], payer, Hash.default())
        return len(bytes(Transaction.new_unsigned(message)))

    chunk = PACKET_DATA_SIZE - size(0) - 2  # the data length's compact-u16 grows by <= 2 bytes
    while size(chunk + 1) <= PACKET_DATA_SIZE:
        chunk += 1
    return chunk


def deploy_steps(
    payer: Pubkey,
    program: Keypair,
    buffer: Keypair,
    so_bytes: bytes,
    rent_exempt: Callable[[int], int],
    *,
    max_data_len: int | None = None,
) -> list[DeployStep]:
    """The transactions that deploy `so_bytes` at `program`'s address, in order.

    1. create the buffer account (System program, rent-exempt) and InitializeBuffer;
    2. Write the ELF in chunks that each fit one transaction;
    3. create the program account and DeployWithMaxDataLen (the loader funds the program-data
       account from `payer` and closes the buffer, refunding it to `payer`).

    `payer` pays every fee and is the buffer and upgrade authority. `rent_exempt(size)` gives the
    rent-exempt balance of an account of `size` bytes (LiteSVM's
    `minimum_balance_for_rent_exemption`, or RPC getMinimumBalanceForRentExemption).
    `max_data_len` is the room for upgrades, by default twice the program's size.
    """
    buffer_size = loader_v3.BUFFER_METADATA_SIZE + len(so_bytes)
    create_buffer = create_account(
        CreateAccountParams(
            from_pubkey=payer,
            to_pubkey=buffer.pubkey(),
            lamports=rent_exempt(buffer_size),
            space=buffer_size,
            owner=loader_v3.LOADER_V3_ID,
        )
    )
    steps = [
        DeployStep([create_buffer, loader_v3.initialize_buffer(buffer.pubkey(), payer)], [buffer])
    ]
    chunk = write_chunk_size(payer, buffer.pubkey())
    for offset in range(0, len(so_bytes), chunk):
        piece = so_bytes[offset : offset + chunk]
        steps.append(DeployStep([loader_v3.write(buffer.pubkey(), payer, offset, piece)], []))
    create_program = create_account(
        CreateAccountParams(
            from_pubkey=payer,
            to_pubkey=program.pubkey(),
            lamports=rent_exempt(loader_v3.PROGRAM_ACCOUNT_SIZE),
            space=loader_v3.PROGRAM_ACCOUNT_SIZE,
            owner=loader_v3.LOADER_V3_ID,
        )
    )
    deploy_ix = loader_v3.deploy_with_max_data_len(
        payer, program.pubkey(), buffer.pubkey(), payer, max_data_len or 2 * len(so_bytes)
    )
    steps.append(DeployStep([create_program, deploy_ix], [program]))
    return steps


def send(
    svm: LiteSVM,
    payer: Keypair,
    instructions: Sequence[Instruction],
    signers: Sequence[Keypair] = (),
) -> TransactionMetadata:
    """Sends one transaction to `svm`, paid by `payer`; raises TransactionFailed if refused.

    LiteSVM quirk: an identical transaction sent twice under the same blockhash is refused as
    AlreadyProcessed; call `svm.expire_blockhash()` between identical sends.
    """
    message = Message.new_with_blockhash(list(instructions), payer.pubkey(), svm.latest_blockhash())
    result = svm.send_transaction(VersionedTransaction(message, [payer, *signers]))
    if isinstance(result, FailedTransactionMetadata):
        raise TransactionFailed(result.err(), result.meta().logs())
    return result


def deploy(
    svm: LiteSVM, payer: Keypair, so_bytes: bytes, *, program: Keypair | None = None
) -> Pubkey:
    """Deploys `so_bytes` to `svm` through the upgradeable loader and returns the program id.

    Raises TransactionFailed (with the loader's logs, e.g. "Unresolved symbol (...)") when the
    loader refuses the ELF. LiteSVM lets the program be invoked at once; a cluster only from the
    next slot on. The clock is left alone.
    """
    program = program or Keypair()
    steps = deploy_steps(
        payer.pubkey(), program, Keypair(), so_bytes, svm.minimum_balance_for_rent_exemption
    )
    for step in steps:
        send(svm, payer, step.instructions, step.signers)
    return program.pubkey()


def load_program(svm: LiteSVM, program_id: Pubkey, so_bytes: bytes) -> None:
    """Puts a program into `svm` directly (`svm.add_program`): instant, no transactions, no fees.

    This is NOT a deployment: LiteSVM loads the ELF with the runtime's relaxed checks, so a program
    that loads here may still be refused by a cluster. Use it for fast test setup where deployment
    is not the point; use `deploy` to check that a program really deploys.
    """
    svm.add_program(program_id, so_bytes)
