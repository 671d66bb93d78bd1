"""The Proof-of-Charge program (programs/proof_of_charge), built from its C source, on LiteSVM.

Each test loads the program at a fresh address, creates a Token-2022 mint whose mint authority is
the program's PDA, initialises the config and registers one attestor; then records sessions and
checks balances to the raw unit against programs.proof_of_charge.amounts, the session account,
the config's counters, and every refusal by its PocError. One test deploys through the real
upgradeable loader; one runs against the full EVCH mint (transfer fee, default-frozen accounts,
permanent delegate, metadata).
"""

from __future__ import annotations

import hashlib
import statistics
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from solders.clock import Clock
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.rent import Rent
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata

from programs.proof_of_charge import (
    CONFIG_SIZE,
    REWARDS_POOL_RAW,
    SESSION_SIZE,
    TOKEN_2022_PROGRAM_ID,
    ChargeRecord,
    ConfigState,
    MintAmounts,
    PocError,
    Rates,
    RewardClass,
    SessionState,
    Tag,
    add_attestor,
    build,
    config_pda,
    custom_error_code,
    initialize,
    mint_amounts,
    mint_authority_pda,
    poc_error,
    record_charge,
    remove_attestor,
    session_address,
    session_pda,
    set_admin,
    set_paused,
    update_rates,
)
from programs.sbpf.deploy import deploy, load_program
from programs.spl import evch_mint
from programs.spl import token2022 as t22

NOW = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGqPDpZ8oLyGwYZ8w7bM6Z9")
Result = TransactionMetadata | FailedTransactionMetadata


@pytest.fixture(scope="session")
def so_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build(tmp_path_factory.mktemp("sbpf")).read_bytes()


# ---------------------------------------------------------------- the harness


def create_mint(svm: LiteSVM, payer: Keypair, authority: Pubkey) -> Pubkey:
    """A plain Token-2022 mint, decimals 6."""
    mint = Keypair()
    send(
        svm,
        payer,
        [
            _create(payer, mint.pubkey(), t22.MINT_SIZE),
            t22.initialize_mint2(
                mint.pubkey(), decimals=6, mint_authority=authority, freeze_authority=None
            ),
        ],
        mint,
    )
    return mint.pubkey()


def create_token_account(svm: LiteSVM, payer: Keypair, mint: Pubkey, owner: Pubkey) -> Pubkey:
    account = Keypair()
    send(
        svm,
        payer,
        [
            _create(payer, account.pubkey(), t22.ACCOUNT_SIZE),
            t22.initialize_account3(account.pubkey(), mint, owner),
        ],
        account,
    )
    return account.pubkey()


def _create(payer: Keypair, account: Pubkey, space: int) -> Instruction:
    return create_account(
        CreateAccountParams(
            from_pubkey=payer.pubkey(),
            to_pubkey=account,
            lamports=t22.rent_exempt_lamports(space),
            space=space,
            owner=TOKEN_2022_PROGRAM_ID,
        )
    )


def send(
    svm: LiteSVM, payer: Keypair, instructions: list[Instruction], *signers: Keypair
) -> Result:
    svm.expire_blockhash()  # a repeated identical transaction is a new one, not AlreadyProcessed
    keys = {k.pubkey(): k for k in (payer, *signers)}
    transaction = Transaction.new_signed_with_payer(
        instructions, payer.pubkey(), list(keys.values()), svm.latest_blockhash()
    )
    return svm.send_transaction(transaction)


def ok(result: Result) -> TransactionMetadata:
    if isinstance(result, FailedTransactionMetadata):
        pytest.fail(f"{result.err()}\n" + "\n".join(result.meta().logs()))
    return result


def refused(result: Result, error: PocError) -> None:
    assert isinstance(result, FailedTransactionMetadata), "the transaction succeeded"
    assert poc_error(result) is error, f"{result.err()}\n" + "\n".join(result.meta().logs())


def charge(
    n: int = 1, energy_wh: int = 23_457, reward_class: RewardClass = RewardClass.NONE
) -> ChargeRecord:
    start = NOW - timedelta(hours=2)
    digest = hashlib.sha256(f"signed meter data {n}".encode()).digest()
    return ChargeRecord.for_session(
        f"session-{n}", "CP-001", energy_wh, start, start + timedelta(minutes=95), digest,
        reward_class,
    )  # fmt: skip


def with_account(ix: Instruction, index: int, meta: AccountMeta) -> Instruction:
    accounts = list(ix.accounts)
    accounts[index] = meta
    return Instruction(ix.program_id, ix.data, accounts)


@dataclass
class Poc:
    """One initialised deployment: admin, one attestor, a mint, a driver's and an operator's
    token accounts."""

    svm: LiteSVM
    payer: Keypair
    program_id: Pubkey
    admin: Keypair
    attestor: Keypair
    mint: Pubkey
    driver_token: Pubkey
    operator_token: Pubkey

    def send(self, instructions: list[Instruction], *signers: Keypair) -> Result:
        return send(self.svm, self.payer, instructions, *signers)

    def record_ix(self, record: ChargeRecord, attestor: Pubkey | None = None) -> Instruction:
        return record_charge(
            self.program_id,
            attestor=attestor or self.attestor.pubkey(),
            payer=self.payer.pubkey(),
            mint=self.mint,
            driver_token=self.driver_token,
            operator_token=self.operator_token,
            record=record,
        )

    def record(self, record: ChargeRecord, attestor: Keypair | None = None) -> Result:
        attestor = attestor or self.attestor
        return self.send([self.record_ix(record, attestor.pubkey())], attestor)

    def admin_call(self, ix: Instruction, signer: Keypair | None = None) -> Result:
        return self.send([ix], signer or self.admin)

    def config(self) -> ConfigState:
        return ConfigState.parse(self.svm.get_account(config_pda(self.program_id)[0]).data)

    def session(self, record: ChargeRecord) -> SessionState:
        address = session_address(self.program_id, record.session_id)
        return SessionState.parse(self.svm.get_account(address).data)

    def balance(self, token_account: Pubkey) -> int:
        return t22.parse_token_account(self.svm.get_account(token_account).data).amount

    def supply(self) -> int:
        return t22.parse_mint(self.svm.get_account(self.mint).data).supply


def setup_poc(svm: LiteSVM, payer: Keypair, program_id: Pubkey, rates: Rates | None = None) -> Poc:
    svm.set_clock(Clock(1_000, 0, 0, 1, int(NOW.timestamp())))
    admin, attestor = Keypair(), Keypair()
    mint = create_mint(svm, payer, mint_authority_pda(program_id)[0])
    driver_token = create_token_account(svm, payer, mint, Keypair().pubkey())
    operator_token = create_token_account(svm, payer, mint, Keypair().pubkey())
    poc = Poc(svm, payer, program_id, admin, attestor, mint, driver_token, operator_token)
    init = initialize(
        program_id, admin=admin.pubkey(), payer=payer.pubkey(), mint=mint, rates=rates or Rates()
    )
    ok(poc.send([init], admin))
    ok(poc.admin_call(add_attestor(program_id, admin=admin.pubkey(), attestor=attestor.pubkey())))
    return poc


@pytest.fixture
def poc(svm: LiteSVM, payer: Keypair, so_bytes: bytes) -> Poc:
    program_id = Keypair().pubkey()
    load_program(svm, program_id, so_bytes)
    return setup_poc(svm, payer, program_id)


# ---------------------------------------------------------------- initialise and record


def test_initialize_writes_the_config(poc: Poc) -> None:
    config = poc.config()
    _, config_bump = config_pda(poc.program_id)
    authority, authority_bump = mint_authority_pda(poc.program_id)
    assert config.admin == poc.admin.pubkey()
    assert config.mint == poc.mint
    assert config.mint_authority == authority
    assert (config.config_bump, config.mint_authority_bump) == (config_bump, authority_bump)
    assert config.attestors == (poc.attestor.pubkey(),)
    assert config.rates == Rates()
    assert config.rates.rewards_cap_raw == REWARDS_POOL_RAW == 400_000_000 * 10**6
    assert not config.paused
    assert (config.verified_wh, config.minted_total_raw, config.sessions_recorded) == (0, 0, 0)
    account = poc.svm.get_account(config_pda(poc.program_id)[0])
    assert account.owner == poc.program_id and len(account.data) == CONFIG_SIZE
    assert account.lamports == poc.svm.minimum_balance_for_rent_exemption(CONFIG_SIZE)


REWARD_CLASSES = [
    RewardClass.NONE,
    RewardClass.OFF_PEAK,
    RewardClass.RENEWABLE,
    RewardClass.OFF_PEAK | RewardClass.RENEWABLE,
]


@pytest.mark.parametrize(
    "reward_class", REWARD_CLASSES, ids=lambda c: c.name or "OFF_PEAK|RENEWABLE"
)
def test_record_charge_mints_the_computed_amounts(poc: Poc, reward_class: RewardClass) -> None:
    record = charge(energy_wh=23_457, reward_class=reward_class)
    result = ok(poc.record(record))

    expected = mint_amounts(Rates(), 23_457, reward_class)
    base = 23_457_000  # 23.457 kWh = 23,457,000 raw at 1 raw per mWh
    assert expected.driver_raw == base * 6_667 // 10_000 == 15_638_781
    assert expected.operator_raw == base * 3_333 // 10_000 == 7_818_218
    rewards = {
        RewardClass.NONE: 0,
        RewardClass.OFF_PEAK: 2_345_700,
        RewardClass.RENEWABLE: 4_691_400,
        RewardClass.OFF_PEAK | RewardClass.RENEWABLE: 2_345_700 + 4_691_400,
    }
    assert expected.reward_raw == rewards[reward_class]
    assert poc.balance(poc.driver_token) == expected.driver_total_raw
    assert poc.balance(poc.operator_token) == expected.operator_raw
    assert poc.supply() == expected.total_raw
    assert MintAmounts.from_return_data(result.return_data().data) == expected
    assert any("poc: charge recorded" in line for line in result.logs())


def test_both_reward_classes_add_up(poc: Poc) -> None:
    both = RewardClass.OFF_PEAK | RewardClass.RENEWABLE
    ok(poc.record(charge(energy_wh=10_001, reward_class=both)))
    expected = mint_amounts(Rates(), 10_001, both)
    assert expected.reward_raw == 1_000_100 + 2_000_200
    assert poc.balance(poc.driver_token) == expected.driver_total_raw


def test_session_account_holds_the_record(poc: Poc) -> None:
    record = charge(7, energy_wh=41_000, reward_class=RewardClass.RENEWABLE)
    ok(poc.record(record))
    session = poc.session(record)
    address, bump = session_pda(poc.program_id, record.session_id)
    account = poc.svm.get_account(address)
    assert account.owner == poc.program_id and len(account.data) == SESSION_SIZE
    assert account.lamports == poc.svm.minimum_balance_for_rent_exemption(SESSION_SIZE)
    assert session.session_id == hashlib.sha256(b"session-7").digest()
    assert session.charger_id == hashlib.sha256(b"CP-001").digest()
    assert session.energy_wh == 41_000
    assert (session.start_unix, session.stop_unix) == (record.start_unix, record.stop_unix)
    assert session.stop_unix - session.start_unix == 95 * 60
    assert session.meter_digest == record.meter_digest
    assert session.reward_class is RewardClass.RENEWABLE
    assert session.amounts == mint_amounts(Rates(), 41_000, RewardClass.RENEWABLE)
    assert session.attestor == poc.attestor.pubkey()
    assert (session.recorded_slot, session.recorded_unix) == (1_000, int(NOW.timestamp()))
    assert (session.driver_token, session.operator_token) == (poc.driver_token, poc.operator_token)
    assert session.bump == bump


def test_config_counts_every_session(svm: LiteSVM, payer: Keypair, so_bytes: bytes) -> None:
    # an odd rate and shares that do not add up to 100 %: every division rounds down
    rates = Rates(1_234_567, 7_001, 2_499, 11_500, 13_333, 10**12)
    program_id = Keypair().pubkey()
    load_program(svm, program_id, so_bytes)
    poc = setup_poc(svm, payer, program_id, rates)
    sessions = [(1, 999, 0), (2, 12_345, 1), (3, 77_777, 2), (4, 1, 3), (5, 0, 0), (6, 65_432, 3)]
    totals = [0, 0, 0]
    for n, energy_wh, reward_class in sessions:
        ok(poc.record(charge(n, energy_wh, RewardClass(reward_class))))
        amounts = mint_amounts(rates, energy_wh, reward_class)
        totals = [totals[0] + amounts.driver_raw, totals[1] + amounts.operator_raw,
                  totals[2] + amounts.reward_raw]  # fmt: skip
    config = poc.config()
    assert config.verified_wh == sum(e for _, e, _ in sessions)
    assert config.sessions_recorded == len(sessions)
    assert [config.minted_driver_raw, config.minted_operator_raw, config.rewards_minted_raw] == (
        totals
    )
    assert poc.balance(poc.driver_token) == totals[0] + totals[2]
    assert poc.balance(poc.operator_token) == totals[1]
    assert poc.supply() == config.minted_total_raw == sum(totals)


def test_compute_units_per_record_charge(poc: Poc, capsys: pytest.CaptureFixture[str]) -> None:
    """RecordCharge costs a fixed amount plus 1,500 CU per bump the session PDA search tries
    (sol_try_find_program_address from 255 down: one try for half the session ids, two for a
    quarter, ...)."""
    units, fixed = [], []
    for n in range(24):
        record = charge(n, 10_000 + n, RewardClass(n % 4))
        result = ok(poc.record(record))
        extra_tries = 255 - session_pda(poc.program_id, record.session_id)[1]
        units.append(result.compute_units_consumed())
        fixed.append(units[-1] - 1_500 * extra_tries)
    with capsys.disabled():
        print(
            f"\nRecordCharge compute units over {len(units)} sessions: min {min(units):,}, "
            f"median {statistics.median(units):,.0f}, max {max(units):,}; "
            f"at the first bump {min(fixed):,}..{max(fixed):,}"
        )
    assert max(fixed) - min(fixed) < 100  # only the reward class changes the rest, slightly
    assert max(fixed) < 15_000


def test_a_session_address_funded_beforehand_is_still_recorded(poc: Poc) -> None:
    record = charge(3)
    address = session_address(poc.program_id, record.session_id)
    poc.svm.airdrop(address, 5_000)  # a gift of lamports must not block the session
    ok(poc.record(record))
    account = poc.svm.get_account(address)
    assert account.owner == poc.program_id
    assert account.lamports == poc.svm.minimum_balance_for_rent_exemption(SESSION_SIZE)
    assert poc.session(record).energy_wh == record.energy_wh


@pytest.mark.parametrize(
    ("lamports_per_byte_year", "exemption_threshold"),
    [(6_960, 1.0), (3_480, 2.0), (1_001, 1.5)],  # today's cluster, before SIMD-0194, odd
)
def test_session_rent_follows_the_rent_sysvar(
    poc: Poc, lamports_per_byte_year: int, exemption_threshold: float
) -> None:
    # the program reads the f64 threshold as its bits (no floating point on chain)
    poc.svm.set_rent(Rent(lamports_per_byte_year, exemption_threshold, 50))
    record = charge(5)
    ok(poc.record(record))
    account = poc.svm.get_account(session_address(poc.program_id, record.session_id))
    expected = int((128 + SESSION_SIZE) * lamports_per_byte_year * exemption_threshold)
    assert account.lamports == expected == poc.svm.minimum_balance_for_rent_exemption(SESSION_SIZE)


def test_the_attestor_may_pay(poc: Poc) -> None:
    poc.svm.airdrop(poc.attestor.pubkey(), 10**9)
    ix = record_charge(
        poc.program_id, attestor=poc.attestor.pubkey(), payer=poc.attestor.pubkey(),
        mint=poc.mint, driver_token=poc.driver_token, operator_token=poc.operator_token,
        record=charge(),
    )  # fmt: skip
    ok(send(poc.svm, poc.attestor, [ix]))
    assert poc.config().sessions_recorded == 1


# ---------------------------------------------------------------- refusals


def test_a_session_is_recorded_once(poc: Poc) -> None:
    record = charge(1, reward_class=RewardClass.OFF_PEAK)
    ok(poc.record(record))
    balances = poc.balance(poc.driver_token), poc.balance(poc.operator_token)
    refused(poc.record(record), PocError.DUPLICATE_SESSION)
    # the same session with other figures, or attested by another attestor: still the same id
    refused(poc.record(replace(record, energy_wh=99_999)), PocError.DUPLICATE_SESSION)
    other = Keypair()
    ok(poc.admin_call(add_attestor(poc.program_id, admin=poc.admin.pubkey(),
                                   attestor=other.pubkey())))  # fmt: skip
    refused(poc.record(record, attestor=other), PocError.DUPLICATE_SESSION)
    assert (poc.balance(poc.driver_token), poc.balance(poc.operator_token)) == balances
    assert poc.config().sessions_recorded == 1


def test_only_a_registered_attestor_may_record(poc: Poc) -> None:
    refused(poc.record(charge(), attestor=Keypair()), PocError.WRONG_ATTESTOR)
    # the registered attestor named but not signing
    ix = poc.record_ix(charge())
    unsigned = with_account(ix, 0, AccountMeta(poc.attestor.pubkey(), False, False))
    refused(poc.send([unsigned]), PocError.WRONG_ATTESTOR)
    assert poc.supply() == 0


def test_paused_refuses_records(poc: Poc) -> None:
    pause = set_paused(poc.program_id, admin=poc.admin.pubkey(), paused=True)
    ok(poc.admin_call(pause))
    assert poc.config().paused
    refused(poc.record(charge()), PocError.PAUSED)
    ok(poc.admin_call(set_paused(poc.program_id, admin=poc.admin.pubkey(), paused=False)))
    ok(poc.record(charge()))


def test_rewards_stop_at_the_pool_cap(poc: Poc) -> None:
    # 10 kWh off-peak: base 10,000,000 raw, reward 1,000,000 raw
    capped = replace(Rates(), rewards_cap_raw=1_500_000)
    ok(poc.admin_call(update_rates(poc.program_id, admin=poc.admin.pubkey(), rates=capped)))
    ok(poc.record(charge(1, 10_000, RewardClass.OFF_PEAK)))
    refused(poc.record(charge(2, 10_000, RewardClass.OFF_PEAK)), PocError.OVER_CAP)
    ok(poc.record(charge(3, 10_000, RewardClass.NONE)))  # no reward, no cap
    # the cap cannot go below what was minted already; exactly the cap is allowed
    below = replace(Rates(), rewards_cap_raw=999_999)
    refused(poc.admin_call(update_rates(poc.program_id, admin=poc.admin.pubkey(), rates=below)),
            PocError.OVER_CAP)  # fmt: skip
    raised = replace(Rates(), rewards_cap_raw=2_000_000)
    ok(poc.admin_call(update_rates(poc.program_id, admin=poc.admin.pubkey(), rates=raised)))
    ok(poc.record(charge(2, 10_000, RewardClass.OFF_PEAK)))
    assert poc.config().rewards_minted_raw == 2_000_000 == poc.config().rates.rewards_cap_raw
    refused(poc.record(charge(4, 1, RewardClass.OFF_PEAK)), PocError.OVER_CAP)


@pytest.mark.parametrize(
    "energy_wh",
    [2**64 - 1, 10**13],  # energy x rate overflows; base x driver_bps overflows
)
def test_huge_energy_overflows(poc: Poc, energy_wh: int) -> None:
    with pytest.raises(OverflowError):
        mint_amounts(Rates(), energy_wh)
    refused(poc.record(charge(energy_wh=energy_wh)), PocError.ARITHMETIC_OVERFLOW)
    assert poc.config().sessions_recorded == 0


def test_a_counter_that_would_overflow_refuses(poc: Poc) -> None:
    tiny = Rates(1, 1_000, 0, 10_000, 10_000, 0)
    ok(poc.admin_call(update_rates(poc.program_id, admin=poc.admin.pubkey(), rates=tiny)))
    ok(poc.record(charge(1, 2**63)))
    refused(poc.record(charge(2, 2**63)), PocError.ARITHMETIC_OVERFLOW)  # verified Wh: 2^64
    assert poc.config().verified_wh == 2**63


def test_stop_before_start_is_refused(poc: Poc) -> None:
    record = charge()
    refused(poc.record(replace(record, stop_unix=record.start_unix - 1)),
            PocError.STOP_BEFORE_START)  # fmt: skip
    ok(poc.record(replace(record, stop_unix=record.start_unix)))


def test_admin_instructions_need_the_admin(poc: Poc) -> None:
    pid, intruder = poc.program_id, Keypair()
    calls = [
        add_attestor(pid, admin=intruder.pubkey(), attestor=intruder.pubkey()),
        remove_attestor(pid, admin=intruder.pubkey(), attestor=poc.attestor.pubkey()),
        set_paused(pid, admin=intruder.pubkey(), paused=True),
        update_rates(pid, admin=intruder.pubkey(), rates=replace(Rates(), mint_rate_raw_per_kwh=9)),
        set_admin(pid, admin=intruder.pubkey(), new_admin=intruder.pubkey()),
    ]
    for ix in calls:
        refused(poc.admin_call(ix, intruder), PocError.NOT_ADMIN)
    # the admin's key named but not signing
    unsigned = with_account(
        set_paused(pid, admin=poc.admin.pubkey(), paused=True),
        0,
        AccountMeta(poc.admin.pubkey(), False, False),
    )
    refused(poc.send([unsigned]), PocError.NOT_ADMIN)
    assert poc.config() == replace(poc.config(), paused=False, rates=Rates())


def test_set_admin_hands_over(poc: Poc) -> None:
    new_admin = Keypair()
    handover = set_admin(poc.program_id, admin=poc.admin.pubkey(), new_admin=new_admin.pubkey())
    unsigned = with_account(handover, 2, AccountMeta(new_admin.pubkey(), False, False))
    refused(poc.admin_call(unsigned), PocError.NOT_ADMIN)
    ok(poc.send([handover], poc.admin, new_admin))
    assert poc.config().admin == new_admin.pubkey()
    pause = set_paused(poc.program_id, admin=poc.admin.pubkey(), paused=True)
    refused(poc.admin_call(pause), PocError.NOT_ADMIN)
    ok(poc.admin_call(set_paused(poc.program_id, admin=new_admin.pubkey(), paused=True), new_admin))


def test_attestor_list(poc: Poc) -> None:
    pid, admin = poc.program_id, poc.admin.pubkey()
    refused(poc.admin_call(add_attestor(pid, admin=admin, attestor=poc.attestor.pubkey())),
            PocError.ATTESTOR_ALREADY_REGISTERED)  # fmt: skip
    others = [Keypair() for _ in range(7)]
    for other in others:
        ok(poc.admin_call(add_attestor(pid, admin=admin, attestor=other.pubkey())))
    refused(poc.admin_call(add_attestor(pid, admin=admin, attestor=Keypair().pubkey())),
            PocError.ATTESTOR_LIST_FULL)  # fmt: skip
    assert len(poc.config().attestors) == 8

    ok(poc.admin_call(remove_attestor(pid, admin=admin, attestor=poc.attestor.pubkey())))
    assert poc.config().attestors == (others[-1].pubkey(), *(o.pubkey() for o in others[:-1]))
    refused(poc.record(charge(1)), PocError.WRONG_ATTESTOR)
    refused(poc.admin_call(remove_attestor(pid, admin=admin, attestor=poc.attestor.pubkey())),
            PocError.WRONG_ATTESTOR)  # fmt: skip
    ok(poc.record(charge(1), attestor=others[3]))
    assert poc.session(charge(1)).attestor == others[3].pubkey()


def _wrong_mint(poc: Poc) -> Instruction:
    # a mint whose authority is the program's PDA as well, but not the config's mint
    other = create_mint(poc.svm, poc.payer, mint_authority_pda(poc.program_id)[0])
    ix = poc.record_ix(charge())
    return with_account(ix, 4, AccountMeta(other, False, True))


def _token_account_of_another_mint(poc: Poc) -> Instruction:
    other = create_mint(poc.svm, poc.payer, poc.payer.pubkey())
    account = create_token_account(poc.svm, poc.payer, other, Keypair().pubkey())
    return with_account(poc.record_ix(charge()), 6, AccountMeta(account, False, True))


def _another_pda_as_mint_authority(poc: Poc) -> Instruction:
    other_pda = Pubkey.find_program_address([b"mint_authority_"], poc.program_id)[0]
    return with_account(poc.record_ix(charge()), 5, AccountMeta(other_pda, False, False))


def _session_of_another_id(poc: Poc) -> Instruction:
    wrong = session_address(poc.program_id, charge(2).session_id)
    return with_account(poc.record_ix(charge(1)), 2, AccountMeta(wrong, False, True))


def _recorded_session_as_config(poc: Poc) -> Instruction:
    ok(poc.record(charge(9)))  # a program-owned account that is not the config
    session = session_address(poc.program_id, charge(9).session_id)
    return with_account(poc.record_ix(charge(1)), 1, AccountMeta(session, False, True))


WRONG_ACCOUNTS: dict[str, Callable[[Poc], Instruction]] = {
    "wrong mint": _wrong_mint,
    "wrong mint authority PDA": _another_pda_as_mint_authority,
    "wrong session PDA": _session_of_another_id,
    "session account as config": _recorded_session_as_config,
    "config not owned by the program": lambda poc: with_account(
        poc.record_ix(charge()), 1, AccountMeta(Keypair().pubkey(), False, True)
    ),
    "legacy Token program": lambda poc: with_account(
        poc.record_ix(charge()), 8, AccountMeta(TOKEN_PROGRAM_ID, False, False)
    ),
    "token account of another mint": _token_account_of_another_mint,
    "read-only operator account": lambda poc: with_account(
        poc.record_ix(charge()), 7, AccountMeta(poc.operator_token, False, False)
    ),
}


@pytest.mark.parametrize("case", WRONG_ACCOUNTS)
def test_wrong_accounts_are_refused(poc: Poc, case: str) -> None:
    ix = WRONG_ACCOUNTS[case](poc)
    before = poc.config().sessions_recorded
    refused(poc.send([ix], poc.attestor), PocError.INVALID_ACCOUNT)
    assert poc.config().sessions_recorded == before


def test_invalid_instruction_data(poc: Poc) -> None:
    def call(data: bytes) -> Result:
        ix = poc.record_ix(charge())
        return poc.send([Instruction(poc.program_id, data, ix.accounts)], poc.attestor)

    good = bytes(poc.record_ix(charge()).data)
    refused(call(b""), PocError.INVALID_INSTRUCTION)
    refused(call(bytes([99])), PocError.INVALID_INSTRUCTION)
    refused(call(good[:-1]), PocError.INVALID_INSTRUCTION)
    refused(call(good + b"\0"), PocError.INVALID_INSTRUCTION)
    refused(call(good[:-1] + bytes([4])), PocError.INVALID_INSTRUCTION)  # unknown reward bit
    pause = bytes([Tag.SET_PAUSED, 2])
    refused(poc.admin_call(Instruction(poc.program_id, pause, set_paused(
        poc.program_id, admin=poc.admin.pubkey(), paused=True).accounts)),
        PocError.INVALID_INSTRUCTION)  # fmt: skip


def test_initialize_is_checked(svm: LiteSVM, payer: Keypair, so_bytes: bytes) -> None:
    program_id = Keypair().pubkey()
    load_program(svm, program_id, so_bytes)
    admin = Keypair()
    authority = mint_authority_pda(program_id)[0]
    good_mint = create_mint(svm, payer, authority)
    foreign_mint = create_mint(svm, payer, payer.pubkey())  # minting not handed to the PDA

    def init(mint: Pubkey, data: bytes | None = None) -> Result:
        ix = initialize(program_id, admin=admin.pubkey(), payer=payer.pubkey(), mint=mint)
        return send(svm, payer, [Instruction(program_id, data or ix.data, ix.accounts)], admin)

    refused(init(foreign_mint), PocError.INVALID_ACCOUNT)
    # driver 7,000 + operator 3,001 bps: more than the whole base (Rates() refuses it too)
    shares_over_100 = bytes([Tag.INITIALIZE]) + struct.pack("<QHHIIQ", 10**6, 7_000, 3_001,
                                                            10_000, 10_000, 0)  # fmt: skip
    refused(init(good_mint, shares_over_100), PocError.INVALID_INSTRUCTION)
    ok(init(good_mint))
    refused(init(good_mint), PocError.ALREADY_INITIALIZED)
    # a config at any other address than the PDA ["config"]
    ix = initialize(program_id, admin=admin.pubkey(), payer=payer.pubkey(), mint=good_mint)
    fake = Keypair()
    moved = with_account(ix, 2, AccountMeta(fake.pubkey(), True, True))
    refused(send(svm, payer, [moved], admin, fake), PocError.INVALID_ACCOUNT)


# ---------------------------------------------------------------- deployment and the EVCH mint


def test_deployed_through_the_upgradeable_loader(
    svm: LiteSVM, payer: Keypair, so_bytes: bytes
) -> None:
    program_id = deploy(svm, payer, so_bytes)  # the strict ELF checks a cluster applies
    poc = setup_poc(svm, payer, program_id)
    result = ok(poc.record(charge(energy_wh=52_000, reward_class=RewardClass.RENEWABLE)))
    expected = mint_amounts(Rates(), 52_000, RewardClass.RENEWABLE)
    assert MintAmounts.from_return_data(result.return_data().data) == expected
    assert poc.balance(poc.driver_token) == expected.driver_total_raw
    refused(poc.record(charge(energy_wh=52_000)), PocError.DUPLICATE_SESSION)


def test_with_the_evch_mint(svm: LiteSVM, payer: Keypair, so_bytes: bytes) -> None:
    """The real EVCH mint: accounts start frozen until KYC thaws them, a transfer fee, a permanent
    delegate, metadata. Minting into a frozen account fails in Token-2022 (not a PocError)."""
    program_id = Keypair().pubkey()
    load_program(svm, program_id, so_bytes)
    admin, kyc, mint = Keypair(), Keypair(), Keypair()
    authority = mint_authority_pda(program_id)[0]
    config = evch_mint.EvchMintConfig(
        admin=admin.pubkey(), freeze_authority=kyc.pubkey(), fee_config_authority=admin.pubkey(),
        fee_withdraw_authority=admin.pubkey(), permanent_delegate=admin.pubkey(),
        transfer_fee_bps=50, maximum_fee=10**9,
    )  # fmt: skip
    create = evch_mint.create_evch_mint(
        config, payer=payer.pubkey(), mint=mint.pubkey(), mint_authority=authority
    )
    # the mint and the config in one transaction: nobody can initialise the config in between
    init = initialize(program_id, admin=admin.pubkey(), payer=payer.pubkey(), mint=mint.pubkey())
    ok(send(svm, payer, [*create, init], mint, admin))
    attestor = Keypair()
    ok(send(svm, payer, [add_attestor(program_id, admin=admin.pubkey(),
                                      attestor=attestor.pubkey())], admin))  # fmt: skip
    driver, operator = Keypair().pubkey(), Keypair().pubkey()
    ok(send(svm, payer, [
        t22.create_associated_token_account_idempotent(payer.pubkey(), owner, mint.pubkey())
        for owner in (driver, operator)
    ]))  # fmt: skip
    driver_token = t22.associated_token_address(driver, mint.pubkey())
    operator_token = t22.associated_token_address(operator, mint.pubkey())
    ok(send(svm, payer, [t22.thaw_account(driver_token, mint.pubkey(), kyc.pubkey())], kyc))

    def record(n: int) -> Result:
        ix = record_charge(
            program_id, attestor=attestor.pubkey(), payer=payer.pubkey(), mint=mint.pubkey(),
            driver_token=driver_token, operator_token=operator_token,
            record=charge(n, 30_000, RewardClass.OFF_PEAK),
        )  # fmt: skip
        return send(svm, payer, [ix], attestor)

    frozen = record(1)
    assert poc_error(frozen) is None
    assert custom_error_code(frozen) == t22.TokenError.ACCOUNT_FROZEN
    ok(send(svm, payer, [t22.thaw_account(operator_token, mint.pubkey(), kyc.pubkey())], kyc))
    ok(record(1))
    expected = mint_amounts(Rates(), 30_000, RewardClass.OFF_PEAK)
    balances = [t22.parse_token_account(svm.get_account(a).data).amount
                for a in (driver_token, operator_token)]  # fmt: skip
    assert balances == [expected.driver_total_raw, expected.operator_raw]
    assert t22.parse_mint(svm.get_account(mint.pubkey()).data).supply == expected.total_raw


# ---------------------------------------------------------------- the Python client alone


def test_client_encodings() -> None:
    record = charge(1, 5, RewardClass.OFF_PEAK | RewardClass.RENEWABLE)
    data = record.encode()
    assert len(data) == 121 and data[-1] == 3
    assert len(Rates().encode()) == 28
    with pytest.raises(ValueError):
        ChargeRecord.for_session("s", "c", 1, NOW.replace(tzinfo=None), NOW, bytes(32))
    with pytest.raises(ValueError):
        replace(record, session_id=b"short")
    with pytest.raises(ValueError):
        Rates(driver_bps=9_000, operator_bps=1_001)
    with pytest.raises(ValueError):
        Rates(off_peak_multiplier_bps=9_999)


def test_error_mapping() -> None:
    rpc_form = {"InstructionError": [0, {"Custom": int(PocError.OVER_CAP)}]}
    assert poc_error(rpc_form) is PocError.OVER_CAP
    assert poc_error({"InstructionError": [0, {"Custom": 17}]}) is None  # Token-2022's
    assert poc_error({"InstructionError": [0, "InvalidAccountData"]}) is None
    assert PocError.DUPLICATE_SESSION.message == "this session was already recorded"
    assert all(error.message for error in PocError)
