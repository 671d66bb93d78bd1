"""Proof-of-Charge sessions minted per second, beside plain Token-2022 MintTo transactions.

    python benchmarks/ledger_mint.py [--sessions N] [--rpc-sessions M] [--repeat R]
                                     [--concurrency C] [--no-validator-process]

On one machine, one after the other, in this process (but for the last `evch validator`):

- **Baseline**: Token-2022 MintToChecked from Python on a fresh LiteSVM (solders), one per
  transaction, to a plain mint (no extensions) whose authority is the payer: the reference's
  "plain MintTo from Python reaches a few thousand transactions/s on LiteSVM".
- **RecordCharge on LiteSVM**: a ledger bootstrapped as the central system does it
  (``central_system.tokens.bootstrap``: programs deployed through the upgradeable loader, the
  EVCH mint with TransferFee, DefaultAccountState=Frozen, PermanentDelegate, metadata), drivers
  whose token accounts were opened and thawed by the KYC key. Each session is a distinct
  ``ChargeRecord`` (its own session id, so its own session PDA) signed by the attestor, who
  also pays. One session per transaction and batched (as many RecordCharge instructions as fit
  in 1,232 bytes, one attestor signature), through ``EmbeddedLedger.send`` and directly on the
  ``solders.litesvm.LiteSVM`` underneath (the wrapper's cost is the difference).
- **RecordCharge through `evch validator`**: ``LocalnetServer`` (the app `evch validator`
  serves) in this process on a free loopback port, ``RpcLedger`` over HTTP. ``RpcLedger.send``
  fetches a blockhash, sends (the node simulates first: preflight), confirms
  (getSignatureStatuses) and reads the transaction back (getTransaction) for its logs and units:
  four requests per transaction, one after the other. Also measured: several senders at once
  (``asyncio.gather``, "pipelined") and bare ``sendTransaction`` without confirmation, both
  labelled; the validator's calls are counted and timed. Then (unless
  ``--no-validator-process``) the same through the CLI, `evch validator --port P`, in its own
  process, with the CPU of both processes.
- **Compute units per instruction**: MintTo/MintToChecked (plain mint), RecordCharge (its PDA
  bump search makes it vary) and the MintTo CPIs inside it, and the Token-2022 instructions the
  EVCH mint's life uses: create the associated account, ThawAccount, TransferChecked (fee
  withheld) and TransferCheckedWithFee.

Each throughput figure is the median of ``--repeat`` runs after a short warm-up, wall clock
around building the instructions, signing, sending and reading the outcome. At the end, every
ledger's Proof-of-Charge config must count exactly the sessions sent and the raw units
``mint_amounts`` predicts for them. Results go to ``benchmarks/results/ledger_mint.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from machine import busy_cpu_s, free_port, machine_info, progress_bar, versions
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.models import TxOpts
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction

from central_system.ledger import PACKET_DATA_SIZE, EmbeddedLedger, Ledger, RpcLedger, TxResult
from central_system.tokens.bootstrap import TokenAuthorities, TokenDeployment, bootstrap
from programs import proof_of_charge as poc
from programs.localnet import LocalnetServer, LocalValidator
from programs.spl import evch_mint
from programs.spl import token2022 as t22

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REFERENCE = "plain MintTo from Python reaches a few thousand transactions/s on LiteSVM here"
LAMPORTS_PER_SOL = 1_000_000_000
DECIMALS = evch_mint.EVCH_DECIMALS
START_UNIX = int(datetime(2026, 3, 2, 7, 0, tzinfo=UTC).timestamp())
FIRST_BUMP = 255  # find_program_address tries 255 first, then 254, ...
SIGNATURES_PER_STATUS_CALL = 256  # getSignatureStatuses takes at most 256
NOISY_PCT = 15  # other processes' CPU (% of a core) during a run that makes it suspect
MIN_WALL_FOR_OTHERS_S = 0.5

console = Console(width=None if sys.stdout.isatty() else 150)


# -- sessions and drivers -----------------------------------------------------------------
class Sessions:
    """Distinct charging sessions as the CSMS attests them: every session id is new."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:12]
        self.count = 0

    def take(self, n: int) -> list[poc.ChargeRecord]:
        records = []
        for _ in range(n):
            i = self.count
            self.count += 1
            start = START_UNIX + 90 * i
            records.append(
                poc.ChargeRecord(
                    poc.session_id_hash(f"bench-{self.tag}-{i}"),
                    poc.charger_id_hash(f"CP-{i % 500:03d}"),
                    energy_wh=4_000 + (i * 7_919) % 56_000,
                    start_unix=start,
                    stop_unix=start + 1_800 + i % 7_200,
                    meter_digest=hashlib.sha256(f"meter-{self.tag}-{i}".encode()).digest(),
                    reward_class=poc.RewardClass(i % 4),  # none, off-peak, renewable, both
                )
            )
        return records


Job = tuple[poc.ChargeRecord, Pubkey]  # a session and its driver's token account


@dataclass
class Chain:
    """One bootstrapped ledger with thawed drivers, and what was recorded on it."""

    ledger: Ledger
    keys: TokenAuthorities
    deployment: TokenDeployment
    drivers: list[Keypair]
    accounts: list[Pubkey]  # the drivers' EVCH token accounts, thawed
    sessions: Sessions = field(default_factory=Sessions)
    units: dict[str, list[int]] = field(default_factory=dict)  # setup instruction -> CU
    sent: int = 0  # sessions in transactions that landed
    expected_raw: int = 0  # what mint_amounts says those sessions mint
    expected_wh: int = 0

    def jobs(self, n: int) -> list[Job]:
        """The next ``n`` sessions, drivers in turn (so a batch never repeats a driver)."""
        first = self.sessions.count
        records = self.sessions.take(n)
        count = len(self.accounts)
        return [(r, self.accounts[(first + i) % count]) for i, r in enumerate(records)]

    def instruction(self, job: Job) -> Instruction:
        record, driver = job
        attestor = self.keys.attestor.pubkey()
        return poc.record_charge(
            self.deployment.proof_of_charge,
            attestor=attestor,
            payer=attestor,
            mint=self.deployment.mint,
            driver_token=driver,
            operator_token=self.deployment.operator_account,
            record=record,
        )

    def landed(self, batch: Sequence[Job]) -> None:
        rates = poc.Rates()
        for record, _ in batch:
            amounts = poc.mint_amounts(rates, record.energy_wh, record.reward_class)
            self.expected_raw += amounts.driver_total_raw + amounts.operator_raw
            self.expected_wh += record.energy_wh
        self.sent += len(batch)


async def send_ok(ledger: Ledger, what: str, ixs, payer: Keypair, signers=()) -> TxResult:
    result = await ledger.send(ixs, payer, signers)
    if not result.ok:
        raise RuntimeError(f"{what}: {result.error}\n" + "\n".join(result.logs[-10:]))
    return result


async def prepare(ledger: Ledger, drivers: int) -> Chain:
    """Bootstrap EVCH on ``ledger``, fund the attestor, open and thaw the drivers' accounts
    (one instruction per transaction, so that each gives its compute units)."""
    keys = TokenAuthorities()
    deployment = await bootstrap(ledger, keys)
    await ledger.fund(keys.attestor.pubkey(), 100_000 * LAMPORTS_PER_SOL)
    chain = Chain(ledger, keys, deployment, [], [])
    admin, mint = keys.admin, deployment.mint
    for _ in range(drivers):
        driver = Keypair()
        create = t22.create_associated_token_account_idempotent(
            admin.pubkey(), driver.pubkey(), mint
        )
        result = await send_ok(ledger, "driver account", [create], admin)
        chain.units.setdefault("create_ata", []).append(result.compute_units)
        account = t22.associated_token_address(driver.pubkey(), mint)
        thaw = t22.thaw_account(account, mint, keys.kyc.pubkey())
        result = await send_ok(ledger, "thaw", [thaw], admin, [keys.kyc])
        chain.units.setdefault("thaw", []).append(result.compute_units)
        chain.drivers.append(driver)
        chain.accounts.append(account)
    return chain


def fit_batch(chain: Chain) -> dict:
    """How many RecordCharge instructions one transaction carries (1,232 bytes): drivers all
    different (as used) and all the same (for comparison)."""
    sizes, same_driver = [], 0
    probe = Sessions()
    for k in range(1, len(chain.accounts) + 1):
        records = probe.take(k)
        jobs = [(r, chain.accounts[i]) for i, r in enumerate(records)]
        if wire_size(chain, jobs) > PACKET_DATA_SIZE:
            break
        sizes.append(wire_size(chain, jobs))
    for k in range(1, 64):
        if wire_size(chain, [(r, chain.accounts[0]) for r in probe.take(k)]) > PACKET_DATA_SIZE:
            break
        same_driver = k
    return {
        "per_tx": len(sizes),
        "wire_bytes_by_count": sizes,
        "bytes_per_extra_session": sizes[1] - sizes[0] if len(sizes) > 1 else None,
        "per_tx_if_one_driver": same_driver,
    }


def wire_size(chain: Chain, jobs: Sequence[Job]) -> int:
    message = Message([chain.instruction(j) for j in jobs], chain.keys.attestor.pubkey())
    return len(bytes(Transaction([chain.keys.attestor], message, Hash.default())))


def batches(jobs: list[Job], per_tx: int) -> list[list[Job]]:
    return [jobs[i : i + per_tx] for i in range(0, len(jobs), per_tx)]


# -- outcomes -----------------------------------------------------------------------------
@dataclass
class Outcome:
    """One transaction: did it land, its units and logs (LiteSVM's metadata is converted after
    the clock stopped)."""

    ok: bool
    units: int
    logs: Sequence[str]
    error: str | None = None


def from_litesvm(meta: Any) -> Outcome:
    if hasattr(meta, "err"):  # FailedTransactionMetadata
        inner = meta.meta()
        return Outcome(False, inner.compute_units_consumed(), inner.logs(), str(meta.err()))
    return Outcome(True, meta.compute_units_consumed(), meta.logs())


def from_result(result: TxResult) -> Outcome:
    return Outcome(result.ok, result.compute_units, result.logs, result.error)


Advance = Callable[[int], None]
Sender = Callable[[list[list[Job]], Advance], Awaitable[list[Outcome]]]


# -- the senders --------------------------------------------------------------------------
def direct_sender(chain: Chain) -> Sender:
    """Straight into solders' LiteSVM: build, sign, send_transaction; one blockhash (every
    transaction differs anyway), no size check, no result object."""
    svm: LiteSVM = chain.ledger.svm
    attestor = chain.keys.attestor

    async def send(work: list[list[Job]], advance: Advance) -> list[Outcome]:
        blockhash = svm.latest_blockhash()
        metas = []
        for batch in work:
            message = Message([chain.instruction(j) for j in batch], attestor.pubkey())
            metas.append(svm.send_transaction(Transaction([attestor], message, blockhash)))
            advance(len(batch))
        return [from_litesvm(m) for m in metas]  # type: ignore[misc]

    return send


def ledger_sender(chain: Chain, concurrency: int = 1) -> Sender:
    """``Ledger.send`` as the token service calls it, by ``concurrency`` senders at once."""
    attestor = chain.keys.attestor

    async def send(work: list[list[Job]], advance: Advance) -> list[Outcome]:
        results: list[TxResult | None] = [None] * len(work)
        queue = iter(range(len(work)))

        async def sender() -> None:
            for n in queue:
                ixs = [chain.instruction(j) for j in work[n]]
                results[n] = await chain.ledger.send(ixs, attestor)
                advance(len(work[n]))

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return [from_result(r) for r in results if r is not None]

    return send


def raw_rpc_sender(chain: Chain, url: str) -> Sender:
    """Bare sendTransaction (the node still simulates first), a blockhash per 100 transactions,
    no confirmation: the statuses are read at the end, one call per 256 signatures (inside the
    clock). Not what RpcLedger does."""
    attestor = chain.keys.attestor

    async def send(work: list[list[Job]], advance: Advance) -> list[Outcome]:
        client = AsyncClient(url, commitment=Confirmed)
        options = TxOpts(skip_confirmation=True, preflight_commitment=Confirmed)
        signatures: list[Signature] = []
        try:
            for n, batch in enumerate(work):
                if n % 100 == 0:
                    blockhash = (await client.get_latest_blockhash()).value.blockhash
                message = Message([chain.instruction(j) for j in batch], attestor.pubkey())
                transaction = Transaction([attestor], message, blockhash)
                await client.send_raw_transaction(bytes(transaction), options)
                signatures.append(transaction.signatures[0])
                advance(len(batch))
            statuses = []
            for i in range(0, len(signatures), SIGNATURES_PER_STATUS_CALL):
                chunk = signatures[i : i + SIGNATURES_PER_STATUS_CALL]
                statuses.extend((await client.get_signature_statuses(chunk)).value)
        finally:
            await client.close()
        return [
            Outcome(s is not None and s.err is None, 0, (), None if s is None else str(s.err))
            for s in statuses
        ]

    return send


# -- measuring ----------------------------------------------------------------------------
@dataclass
class Variant:
    key: str
    label: str  # the table's row
    backend: str
    per_tx: int
    sessions: int
    sender: Sender
    chain: Chain | None = None  # None: the baseline (not Proof-of-Charge)


class RequestMeter:
    """Counts the validator's JSON-RPC calls and the time spent inside their handlers (LiteSVM,
    the preflight simulation, base64), apart from HTTP, JSON and the client."""

    def __init__(self, validator: LocalValidator) -> None:
        self.calls: dict[str, int] = {}
        self.busy_s = 0.0
        inner = validator.call

        def call(method: str, params: list) -> Any:
            started = time.perf_counter()
            try:
                return inner(method, params)
            finally:
                self.busy_s += time.perf_counter() - started
                self.calls[method] = self.calls.get(method, 0) + 1

        validator.call = call  # type: ignore[method-assign]

    def reset(self) -> tuple[dict[str, int], float]:
        snapshot = dict(self.calls), self.busy_s
        self.calls, self.busy_s = {}, 0.0
        return snapshot


class CpuMeter:
    """CPU seconds of this process (the client; with the in-process validator, that too) and
    of the validator's own process when it has one."""

    def __init__(self, validator_pid: int | None = None) -> None:
        self.validator = psutil.Process(validator_pid) if validator_pid else None

    def _validator_s(self) -> float:
        if self.validator is None:
            return 0.0
        times = self.validator.cpu_times()
        return times.user + times.system

    def reset(self) -> None:
        self._this, self._other = time.process_time(), self._validator_s()
        self._machine = busy_cpu_s()

    def read(self, wall_s: float, transactions: int) -> dict:
        this_s = time.process_time() - self._this
        figures = {
            "this_process_cpu_pct": round(100 * this_s / wall_s),
            "this_process_cpu_ms_per_tx": round(1e3 * this_s / transactions, 3),
        }
        other_s = 0.0
        if self.validator is not None:
            other_s = self._validator_s() - self._other
            figures["validator_process_cpu_pct"] = round(100 * other_s / wall_s)
            figures["validator_process_cpu_ms_per_tx"] = round(1e3 * other_s / transactions, 3)
        # Everything else on the machine (another job shares the cores: the figures suffer).
        # The machine's counters tick every 10 ms: too coarse for shorter runs.
        rest_s = busy_cpu_s() - self._machine - this_s - other_s
        if wall_s >= MIN_WALL_FOR_OTHERS_S:
            figures["other_processes_cpu_pct"] = max(0, round(100 * rest_s / wall_s))
        return figures


async def measure(
    variant: Variant,
    jobs_for: Callable[[int], list[Job]],
    repeat: int,
    warmup: int,
    progress: Progress,
    meter: RequestMeter | None = None,
    cpu: CpuMeter | None = None,
) -> dict:
    """Run ``variant`` ``repeat`` times (after a warm-up) and keep every run's figures."""
    task = progress.add_task(variant.label, total=repeat * variant.sessions)
    chain = variant.chain
    work = batches(jobs_for(warmup), variant.per_tx)
    outcomes = await variant.sender(work, lambda n: None)
    if chain is not None:  # the warm-up's sessions are on chain too: the final check counts them
        for batch, outcome in zip(work, outcomes, strict=True):
            if outcome.ok:
                chain.landed(batch)
    cpu = cpu or CpuMeter()
    runs, outcomes_all = [], []
    for _ in range(repeat):
        work = batches(jobs_for(variant.sessions), variant.per_tx)
        if meter is not None:
            meter.reset()
        cpu.reset()
        started = time.perf_counter()
        outcomes = await variant.sender(work, lambda n: progress.advance(task, n))
        wall_s = time.perf_counter() - started
        run = {
            "wall_s": round(wall_s, 4),
            "transactions": len(work),
            "failed_transactions": sum(not o.ok for o in outcomes),
            "tx_per_s": round(len(work) / wall_s, 1),
        }
        if chain is not None:
            run["sessions"] = sum(len(b) for b in work)
            run["sessions_per_s"] = round(run["sessions"] / wall_s, 1)
        run.update(cpu.read(wall_s, len(work)))
        if meter is not None:
            calls, busy_s = meter.reset()
            run["rpc_calls"] = calls
            run["rpc_calls_per_tx"] = round(sum(calls.values()) / len(work), 2)
            run["validator_busy_s"] = round(busy_s, 4)
        errors = [o.error for o in outcomes if not o.ok]
        if errors:
            run["first_error"] = errors[0]
        if chain is not None:
            for batch, outcome in zip(work, outcomes, strict=True):
                if outcome.ok:
                    chain.landed(batch)
        outcomes_all.extend(zip(work, outcomes, strict=True))
        runs.append(run)
    median = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    result = {
        "label": variant.label,
        "backend": variant.backend,
        "per_tx": variant.per_tx,
        **{k: v for k, v in median.items() if k != "first_error"},
        "runs": runs,
        "failed_transactions_total": sum(r["failed_transactions"] for r in runs),
    }
    result["_outcomes"] = outcomes_all
    return result


# -- compute units --------------------------------------------------------------------------
def instruction_units(logs: Sequence[str]) -> list[tuple[str, int, int]]:
    """(program, depth, units) for each "Program X consumed N of M compute units" line, depth 1
    being a top-level instruction."""
    out, depth = [], 0
    for line in logs:
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "Program" and parts[2] == "invoke":
            depth = int(parts[3].strip("[]"))
        elif len(parts) >= 5 and parts[0] == "Program" and parts[2] == "consumed":
            out.append((parts[1], depth, int(parts[3])))
            depth -= 1
        elif len(parts) == 3 and parts[0] == "Program" and parts[2] in ("success", "failed"):
            pass  # builtins (System) log no units; their invoke line raised the depth
    return out


def record_charge_units(chain: Chain, outcomes: list[tuple[list[Job], Outcome]]) -> dict:
    """RecordCharge's units from each landed transaction's logs: per instruction (batched or
    not), the MintTo CPIs inside, and the cost of each extra bump the PDA search tries."""
    program = str(chain.deployment.proof_of_charge)
    token = str(t22.TOKEN_2022_PROGRAM_ID)
    per_ix, by_extra, inner_mint = [], {}, []
    for batch, outcome in outcomes:
        if not outcome.ok or not outcome.logs:
            continue
        lines = instruction_units(outcome.logs)
        top = [u for p, d, u in lines if p == program and d <= 1]
        inner_mint += [u for p, d, u in lines if p == token and d == 2]
        for (record, _), units in zip(batch, top, strict=False):
            per_ix.append(units)
            _, bump = poc.session_pda(chain.deployment.proof_of_charge, record.session_id)
            by_extra.setdefault(FIRST_BUMP - bump, []).append(units)
    first = by_extra.get(0, [])
    base = statistics.median(first) if first else None
    steps = [(u - base) / extra for extra, us in by_extra.items() if extra > 0 and base for u in us]
    return {
        "record_charge": stats(per_ix),
        "record_charge_by_extra_bump_tries": {
            str(k): stats(v) for k, v in sorted(by_extra.items())
        },
        "share_at_first_bump": round(len(first) / len(per_ix), 3) if per_ix else None,
        "units_per_extra_bump_try": round(statistics.median(steps)) if steps else None,
        "mint_to_cpi": stats(inner_mint),
    }


def stats(values: Sequence[int]) -> dict | None:
    if not values:
        return None
    return {
        "samples": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


async def token_instruction_units(chain: Chain, samples: int) -> dict[str, list[int]]:
    """TransferChecked and TransferCheckedWithFee on the EVCH mint between thawed drivers
    (the fee withheld on the destination), once the drivers hold EVCH."""
    config = chain.deployment.mint_config
    admin, mint = chain.keys.admin, chain.deployment.mint
    units: dict[str, list[int]] = {"transfer_checked": [], "transfer_checked_with_fee": []}
    count = len(chain.drivers)
    for n in range(samples):
        i, j = n % count, (n + 1) % count
        source, destination = chain.accounts[i], chain.accounts[j]
        owner = chain.drivers[i]
        amount = 10_000 + n
        plain = t22.transfer_checked(source, mint, destination, owner.pubkey(), amount, DECIMALS)
        result = await send_ok(chain.ledger, "transfer", [plain], admin, [owner])
        units["transfer_checked"].append(result.compute_units)
        with_fee = t22.transfer_checked_with_fee(
            source, mint, destination, owner.pubkey(), amount, DECIMALS, config.fee(amount)
        )
        result = await send_ok(chain.ledger, "transfer with fee", [with_fee], admin, [owner])
        units["transfer_checked_with_fee"].append(result.compute_units)
    return units


async def check_chain(chain: Chain, name: str) -> dict:
    """The program's own counters against what was sent: sessions, Wh and raw units minted."""
    data = await chain.ledger.account_data(poc.config_address(chain.deployment.proof_of_charge))
    config = poc.ConfigState.parse(data)
    supply = t22.parse_mint(await chain.ledger.account_data(chain.deployment.mint)).supply
    ok = (
        config.sessions_recorded == chain.sent
        and config.verified_wh == chain.expected_wh
        and config.minted_total_raw == chain.expected_raw == supply
    )
    return {
        "ledger": name,
        "sessions_sent": chain.sent,
        "sessions_recorded": config.sessions_recorded,
        "verified_wh": config.verified_wh,
        "minted_raw_expected": chain.expected_raw,
        "minted_raw_on_chain": config.minted_total_raw,
        "mint_supply_raw": supply,
        "ok": ok,
    }


# -- the baseline -------------------------------------------------------------------------
@dataclass
class PlainMint:
    svm: LiteSVM
    payer: Keypair
    mint: Pubkey
    account: Pubkey
    minted: int = 0


def plain_mint() -> PlainMint:
    """A fresh LiteSVM with a plain Token-2022 mint (decimals 6, the payer its authority) and
    the payer's associated account."""
    svm, payer, mint = LiteSVM(), Keypair(), Keypair()
    svm.airdrop(payer.pubkey(), 1_000 * LAMPORTS_PER_SOL)
    instructions = [
        create_account(
            CreateAccountParams(
                from_pubkey=payer.pubkey(),
                to_pubkey=mint.pubkey(),
                lamports=svm.minimum_balance_for_rent_exemption(t22.MINT_SIZE),
                space=t22.MINT_SIZE,
                owner=t22.TOKEN_2022_PROGRAM_ID,
            )
        ),
        t22.initialize_mint2(
            mint.pubkey(), decimals=DECIMALS, mint_authority=payer.pubkey(), freeze_authority=None
        ),
        t22.create_associated_token_account_idempotent(
            payer.pubkey(), payer.pubkey(), mint.pubkey()
        ),
    ]
    message = Message(instructions, payer.pubkey())
    outcome = svm.send_transaction(Transaction([payer, mint], message, svm.latest_blockhash()))
    if hasattr(outcome, "err"):
        raise RuntimeError(f"plain mint: {outcome.err()}")
    account = t22.associated_token_address(payer.pubkey(), mint.pubkey())
    return PlainMint(svm, payer, mint.pubkey(), account)


def mint_to_sender(plain: PlainMint, checked: bool = True) -> Sender:
    """One MintToChecked (or MintTo) per transaction; the amounts differ, so every transaction
    does, under one blockhash."""

    async def send(work: list[list[Job]], advance: Advance) -> list[Outcome]:
        svm, payer = plain.svm, plain.payer
        blockhash = svm.latest_blockhash()
        metas = []
        for batch in work:
            plain.minted += 1
            amount = plain.minted
            ix = (
                t22.mint_to_checked(plain.mint, plain.account, payer.pubkey(), amount, DECIMALS)
                if checked
                else t22.mint_to(plain.mint, plain.account, payer.pubkey(), amount)
            )
            message = Message([ix], payer.pubkey())
            metas.append(svm.send_transaction(Transaction([payer], message, blockhash)))
            advance(len(batch))
        return [from_litesvm(m) for m in metas]

    return send


def count_only(n: int) -> list[Job]:
    """Placeholders for the baseline's transactions (one each; no sessions)."""
    return [None] * n  # type: ignore[list-item]


# -- reporting ----------------------------------------------------------------------------
def render(results: dict, baseline_tx_s: float) -> Table:
    table = Table(title="Proof-of-Charge minting: sessions per second beside plain MintTo")
    for heading, justify in (
        ("path", "left"),
        ("per tx", "right"),
        ("tx/s", "right"),
        ("sessions/s", "right"),
        ("÷ MintTo tx/s", "right"),
        ("÷ 1/tx, same path", "right"),
        ("CU / tx (mean)", "right"),
    ):
        table.add_column(heading, justify=justify)
    for key, r in results.items():
        per_s = r["tx_per_s"] if key == "baseline" else r["sessions_per_s"]
        table.add_row(
            r["label"],
            f"{r['per_tx']}",
            f"{r['tx_per_s']:,.0f}",
            "-" if key == "baseline" else f"{r['sessions_per_s']:,.0f}",
            f"{per_s / baseline_tx_s:.2f}",
            "-" if r.get("vs_single") is None else f"{r['vs_single']:.2f}",
            "-" if r.get("cu_per_tx_mean") is None else f"{r['cu_per_tx_mean']:,}",
        )
    return table


UNIT_ROWS = (  # key, label, note
    ("mint_to", "Token-2022 MintTo", "plain mint, top-level"),
    ("mint_to_checked", "Token-2022 MintToChecked", "plain mint, top-level (the baseline)"),
    ("record_charge", "Proof-of-Charge RecordCharge", "whole instruction, CPIs included"),
    ("mint_to_cpi", "  of which Token-2022 MintTo (CPI)", "EVCH mint, 2 per RecordCharge"),
    ("create_ata", "ATA CreateIdempotent (new account)", "EVCH mint; varies with the ATA's bump"),
    ("thaw", "Token-2022 ThawAccount", "EVCH mint, KYC key signs"),
    ("transfer_checked", "Token-2022 TransferChecked", "EVCH mint, 0.5 % fee withheld"),
    ("transfer_checked_with_fee", "Token-2022 TransferCheckedWithFee", "EVCH mint, fee stated"),
)


def render_units(units: dict) -> Table:
    table = Table(title="Compute units per instruction (LiteSVM)")
    table.add_column("instruction")
    for heading in ("samples", "median", "min", "max"):
        table.add_column(heading, justify="right")
    table.add_column("note")
    for key, label, note in UNIT_ROWS:
        s = units.get(key)
        if not s:
            continue
        table.add_row(
            label,
            f"{s['samples']:,}",
            f"{s['median']:,.0f}",
            f"{s['min']:,}",
            f"{s['max']:,}",
            note,
        )
    return table


def notes(report: dict) -> list[str]:
    results, fit, units = report["results"], report["batch"], report["compute_units"]
    rc = units["record_charge_detail"]
    lines = [
        f"Batch: {fit['per_tx']} RecordCharge per transaction fit in {PACKET_DATA_SIZE:,} bytes "
        f"(1 session: {fit['wire_bytes_by_count'][0]} B, +{fit['bytes_per_extra_session']} B "
        f"per session: its instruction, session PDA and driver account; "
        f"{fit['per_tx_if_one_driver']} if all were one driver's).",
    ]
    by_extra = rc["record_charge_by_extra_bump_tries"]
    first = by_extra.get("0")
    if first and rc["units_per_extra_bump_try"]:
        lines.append(
            f"RecordCharge: {first['min']:,}..{first['max']:,} CU when the session PDA's bump is "
            f"255 ({rc['share_at_first_bump']:.0%} of sessions here), "
            f"+{rc['units_per_extra_bump_try']:,} CU per further bump tried "
            f"(max {max(int(k) for k in by_extra)} extra tries in this run)."
        )
    client = report["client_us_per_tx"]["single"]
    direct = results.get("litesvm_single")
    if direct:
        lines.append(
            f"Client: of the {1e6 / direct['tx_per_s']:,.0f} µs per RecordCharge transaction on "
            f"LiteSVM, {client['build_sign_serialise_us']:,.0f} µs are Python before the send "
            f"(the builder's three PDA searches {client['pda_searches_us']:,.0f} µs, the whole "
            f"builder {client['instructions_us']:,.0f} µs, then message, signature, bytes); "
            f"MintToChecked's take {client['mint_to_checked_build_sign_serialise_us']:,.0f} µs "
            f"of {1e6 / results['baseline']['tx_per_s']:,.0f}."
        )
    embedded, lite = results.get("embedded_single"), results.get("litesvm_single")
    if embedded and lite:
        cost = 1e6 / embedded["tx_per_s"] - 1e6 / lite["tx_per_s"]
        lines.append(
            f"EmbeddedLedger's wrapper (fresh blockhash, size check, TxResult with logs, async "
            f"call) costs {cost:,.0f} µs per transaction over solders' LiteSVM."
        )
    single = results.get("rpc_single")
    if single and "rpc_calls_per_tx" in single:
        busy = single["validator_busy_s"] / single["wall_s"]
        lines.append(
            f"RpcLedger: {single['rpc_calls_per_tx']:.0f} JSON-RPC calls per transaction, one "
            f"after the other ({', '.join(single['rpc_calls'])}); inside the in-process "
            f"validator's handlers (LiteSVM, preflight simulation) {busy:.0%} of the wall "
            "time, the rest is HTTP and solana-py on the one event loop this process shares "
            "with the server, so concurrent senders there gain little."
        )
    own = results.get("proc_single")
    piped = results.get("proc_pipelined_single")
    if own and piped and "validator_process_cpu_pct" in own:
        lines.append(
            f"evch validator in its own process: one after the other, the client uses "
            f"{own['this_process_cpu_ms_per_tx']:.2f} ms of CPU per transaction and the "
            f"validator {own['validator_process_cpu_ms_per_tx']:.2f} ms "
            f"({own['this_process_cpu_pct']} % / {own['validator_process_cpu_pct']} % of a "
            f"core); {piped['concurrency']} concurrent senders overlap them, "
            f"{piped['sessions_per_s'] / own['sessions_per_s']:.2f}x, until the client's "
            f"process is at {piped['this_process_cpu_pct']} %."
        )
    busy = {
        key: max(run.get("other_processes_cpu_pct") or 0 for run in r["runs"])
        for key, r in results.items()
    }
    noisy = {key: pct for key, pct in busy.items() if pct >= NOISY_PCT}
    if noisy:
        worst = ", ".join(f"{key} {pct} %" for key, pct in noisy.items())
        lines.append(
            f"[yellow]Other processes used the CPU during some runs (most per path: {worst} of "
            "a core): those figures are low.[/]"
        )
    for key, r in results.items():
        if r.get("failed_transactions_total"):
            lines.append(f"[red]{key}: {r['failed_transactions_total']} transactions failed[/]")
    for check in report["verification"]:
        mark = "[green]ok[/]" if check["ok"] else "[red]MISMATCH[/]"
        lines.append(
            f"Check ({check['ledger']}): {check['sessions_recorded']:,} sessions recorded of "
            f"{check['sessions_sent']:,} sent, {check['minted_raw_on_chain']:,} raw minted of "
            f"{check['minted_raw_expected']:,} predicted: {mark}"
        )
    return lines


def display_path(path: str) -> str:
    resolved = Path(path).resolve()
    root = HERE.parent
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved)


# -- evch validator -------------------------------------------------------------------------
async def rpc_section(
    url: str,
    prefix: str,
    where: str,  # appended to the labels
    per_batch: int,
    args,
    progress: Progress,
    results: dict,
    checks: list,
    meter: RequestMeter | None = None,
    cpu: CpuMeter | None = None,
) -> None:
    """Bootstrap EVCH through the validator at ``url``, then RecordCharge through RpcLedger:
    one after the other and by concurrent senders, one session per transaction and batched;
    with the in-process validator also bare sendTransaction."""
    ledger = RpcLedger(url)
    try:
        with console.status(f"bootstrapping EVCH on evch validator{where} at {url} ..."):
            chain = await prepare(ledger, args.drivers)
        c, m = args.concurrency, args.rpc_sessions
        rows = [
            ("single", f"RecordCharge, RpcLedger → evch validator{where}", 1, 1),
            ("batch", f"RecordCharge, RpcLedger → evch validator{where}", per_batch, 1),
            ("pipelined_single", f"  same, {c} concurrent senders (pipelined)", 1, c),
            ("pipelined_batch", f"  same, {c} concurrent senders (pipelined)", per_batch, c),
        ]
        for key, label, per_tx, senders in rows:
            sender = ledger_sender(chain, senders)
            variant = Variant(key, label, f"rpc{where}", per_tx, m, sender, chain)
            result = await measure(
                variant, chain.jobs, args.repeat, args.warmup, progress, meter, cpu
            )
            results[f"{prefix}_{key}"] = {**result, "concurrency": senders}
        if meter is not None:
            for key, per_tx in (("raw_single", 1), ("raw_batch", per_batch)):
                variant = Variant(
                    key,
                    "  bare sendTransaction, unconfirmed (not RpcLedger)",
                    "rpc",
                    per_tx,
                    m,
                    raw_rpc_sender(chain, url),
                    chain,
                )
                result = await measure(
                    variant, chain.jobs, args.repeat, args.warmup, progress, meter, cpu
                )
                results[f"{prefix}_{key}"] = result
        checks.append(await check_chain(chain, f"evch validator{where or ' (in this process)'}"))
    finally:
        await ledger.close()


@contextlib.asynccontextmanager
async def validator_process():
    """`evch validator` as the CLI runs it, in its own process: yields (url, pid)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = "from evch.cli import app; app()"
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            command,
            "validator",
            "--no-bootstrap",  # the benchmark deploys its own; a second deployment would skew it
            "--port",
            str(port),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            client = AsyncClient(url)
            try:
                for _ in range(300):  # up to 15 s to start
                    if process.returncode is not None:
                        break
                    with contextlib.suppress(SolanaRpcException):
                        if await client.is_connected():
                            break
                    await asyncio.sleep(0.05)
            finally:
                await client.close()
            if process.returncode is not None:
                errors.seek(0)
                raise RuntimeError(f"evch validator exited: {errors.read().decode()[-2000:]}")
            yield url, process.pid
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()


def client_cost(chain: Chain, plain: PlainMint, per_tx: int, transactions: int = 400) -> dict:
    """Microseconds of Python per transaction before anything is sent: the PDA searches of
    RecordCharge's builder (config, session, mint authority: one each per instruction), the
    whole builder, and building + signing + serialising the transaction; MintToChecked's for
    comparison. The client's share of the LiteSVM figures."""
    probe = Sessions()
    records = probe.take(per_tx * transactions)
    jobs = [(r, chain.accounts[i % len(chain.accounts)]) for i, r in enumerate(records)]
    attestor, program = chain.keys.attestor, chain.deployment.proof_of_charge
    blockhash = Hash.default()

    def per_tx_us(started: float) -> float:
        return round(1e6 * (time.perf_counter() - started) / transactions, 1)

    started = time.perf_counter()
    for record, _ in jobs:
        poc.config_address(program)
        poc.session_address(program, record.session_id)
        poc.mint_authority_address(program)
    pdas = per_tx_us(started)
    started = time.perf_counter()
    for job in jobs:
        chain.instruction(job)
    build = per_tx_us(started)
    started = time.perf_counter()
    for batch in batches(jobs, per_tx):
        message = Message([chain.instruction(j) for j in batch], attestor.pubkey())
        bytes(Transaction([attestor], message, blockhash))
    total = per_tx_us(started)
    payer = plain.payer
    started = time.perf_counter()
    for n in range(transactions):
        ix = t22.mint_to_checked(plain.mint, plain.account, payer.pubkey(), n + 1, DECIMALS)
        bytes(Transaction([payer], Message([ix], payer.pubkey()), blockhash))
    return {
        "record_charge_per_tx": per_tx,
        "pda_searches_us": pdas,
        "instructions_us": build,
        "build_sign_serialise_us": total,
        "mint_to_checked_build_sign_serialise_us": per_tx_us(started),
    }


# -- main ---------------------------------------------------------------------------------
async def main(args) -> int:
    started = datetime.now()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    n, repeat, warmup = args.sessions, args.repeat, args.warmup
    results: dict[str, dict] = {}
    units: dict[str, Any] = {}
    checks = []
    progress = progress_bar(console, refresh_per_second=8)
    with progress:
        # 1. the baseline, and MintTo's units beside it
        plain = plain_mint()
        variant = Variant(
            "baseline",
            "baseline: MintToChecked, LiteSVM (solders)",
            "litesvm",
            1,
            n,
            mint_to_sender(plain),
        )
        results["baseline"] = await measure(variant, count_only, repeat, warmup, progress)
        outcomes = await mint_to_sender(plain, checked=False)(
            batches(count_only(200), 1), lambda n: None
        )
        units["mint_to"] = stats([o.units for o in outcomes])

        # 2. RecordCharge on the embedded LiteSVM
        with console.status("bootstrapping EVCH on the embedded LiteSVM ..."):
            embedded = await prepare(EmbeddedLedger(), args.drivers)
        fit = fit_batch(embedded)
        k = fit["per_tx"]
        lite = [
            ("litesvm_single", "RecordCharge, LiteSVM (solders)", 1, direct_sender(embedded)),
            ("litesvm_batch", "RecordCharge, LiteSVM (solders)", k, direct_sender(embedded)),
            ("embedded_single", "RecordCharge, EmbeddedLedger", 1, ledger_sender(embedded)),
            ("embedded_batch", "RecordCharge, EmbeddedLedger", k, ledger_sender(embedded)),
        ]
        for key, label, per_tx, sender in lite:
            variant = Variant(key, label, "litesvm", per_tx, n, sender, embedded)
            results[key] = await measure(variant, embedded.jobs, repeat, warmup, progress)
        client_us = {
            "single": client_cost(embedded, plain, 1),
            "batch": client_cost(embedded, plain, k),
        }

        # 3. the same through `evch validator` and RpcLedger: in this process (LocalnetServer),
        #    then, unless --no-validator-process, the CLI in its own process
        validator = LocalValidator()
        meter = RequestMeter(validator)
        async with LocalnetServer(validator) as server:
            await rpc_section(server.url, "rpc", "", k, args, progress, results, checks, meter)
        if args.validator_process:
            async with validator_process() as (url, pid):
                await rpc_section(
                    url,
                    "proc",
                    " (own process)",
                    k,
                    args,
                    progress,
                    results,
                    checks,
                    cpu=CpuMeter(pid),
                )

        # 4. compute units of the EVCH mint's other instructions, then the checks
        with console.status("Token-2022 transfers on the EVCH mint ..."):
            transfers = await token_instruction_units(embedded, args.transfers)
        checks.insert(0, await check_chain(embedded, "embedded LiteSVM"))

    # compute units
    litesvm_outcomes = [o for key, _, _, _ in lite for o in results[key]["_outcomes"]]
    detail = record_charge_units(embedded, litesvm_outcomes)
    units["mint_to_checked"] = stats([o.units for _, o in results["baseline"]["_outcomes"]])
    units["record_charge"] = detail["record_charge"]
    units["mint_to_cpi"] = detail["mint_to_cpi"]
    units["create_ata"] = stats(embedded.units["create_ata"])
    units["thaw"] = stats(embedded.units["thaw"])
    for key, values in transfers.items():
        units[key] = stats(values)
    units["record_charge_detail"] = detail
    # ratios and per-transaction units
    for key, r in results.items():
        outcomes = r.pop("_outcomes")
        tx_units = [o.units for _, o in outcomes if o.ok and o.units]
        r["cu_per_tx_mean"] = round(statistics.fmean(tx_units)) if tx_units else None
        single = key.replace("_batch", "_single")
        if key.endswith("_batch") and single in results:
            r["vs_single"] = round(r["sessions_per_s"] / results[single]["sessions_per_s"], 2)
    baseline_tx_s = results["baseline"]["tx_per_s"]
    for key, r in results.items():
        per_s = r["tx_per_s"] if key == "baseline" else r["sessions_per_s"]
        r["vs_baseline"] = round(per_s / baseline_tx_s, 3)

    report = {
        "benchmark": "ledger_mint",
        "date": started.isoformat(timespec="seconds"),
        "machine": {**machine_info(), "load_average_at_start": load_at_start},
        "versions": versions(
            "evch", "solders", "solana", "httpx", "httpx2", "uvicorn", "starlette", "rich"
        ),
        "arguments": {**vars(args), "output": display_path(args.output)},
        "reference": REFERENCE,
        "batch": fit,
        "client_us_per_tx": client_us,
        "results": results,
        "compute_units": units,
        "verification": checks,
    }
    console.print(render(results, baseline_tx_s))
    console.print(render_units(units))
    lines = notes(report)
    for line in lines:
        console.print(line)
    report["notes"] = [console.render_str(line).plain for line in lines]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")  # noqa: ASYNC240
    console.print(f"results: {display_path(args.output)}")
    failed = any(r["failed_transactions_total"] for r in results.values())
    return 1 if failed or not all(c["ok"] for c in checks) else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions",
        type=int,
        default=3_000,
        help="sessions per run on LiteSVM (and MintTo transactions of the baseline)",
    )
    parser.add_argument(
        "--rpc-sessions",
        type=int,
        default=None,
        help="sessions per run through evch validator (default: a third of --sessions)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per path; the median counts")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured sessions first")
    parser.add_argument("--drivers", type=int, default=32, help="thawed driver accounts")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="concurrent senders of the pipelined runs"
    )
    parser.add_argument(
        "--transfers", type=int, default=32, help="transfers of each kind for their units"
    )
    parser.add_argument(
        "--validator-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run `evch validator` in its own process (the CLI) and measure through it",
    )
    parser.add_argument("--output", default=str(RESULTS / "ledger_mint.json"))
    args = parser.parse_args(argv)
    if args.rpc_sessions is None:
        args.rpc_sessions = max(1, args.sessions // 3)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
