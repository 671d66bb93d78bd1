"""The staking program on LiteSVM, with the real EVCH mint (Token-2022: TransferFee,
DefaultAccountState=Frozen, PermanentDelegate, metadata) and the Clock moved by the test."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from solders.clock import Clock
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from programs import staking
from programs.sbpf.build import build_program
from programs.sbpf.deploy import deploy, load_program
from programs.spl.evch_mint import RAW_PER_KWH, EvchMintConfig, create_evch_mint
from programs.spl.token2022 import (
    TOKEN_2022_PROGRAM_ID,
    TokenError,
    associated_token_address,
    create_associated_token_account_idempotent,
    mint_to,
    parse_token_account,
    thaw_account,
    transfer_fee,
)
from programs.staking import Position, StakingError, Tier

EVCH = RAW_PER_KWH  # raw units of 1 EVCH
DAY = 86_400
T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
TIERS = (
    Tier(min_amount=100 * EVCH, min_lock_s=30 * DAY, discount_bps=200),  # 1: 2 %
    Tier(min_amount=1_000 * EVCH, min_lock_s=90 * DAY, discount_bps=500),  # 2: 5 %
    Tier(min_amount=10_000 * EVCH, min_lock_s=180 * DAY, discount_bps=1_000),  # 3: 10 %
)
MIN_LOCK_S, MAX_LOCK_S = 7 * DAY, 4 * 365 * DAY

Result = TransactionMetadata | FailedTransactionMetadata


@pytest.fixture(scope="module")
def staking_so(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_program(staking.PROGRAM_SOURCE, tmp_path_factory.mktemp("staking")).read_bytes()


def custom_error(result: Result) -> int | None:
    """The Custom(n) code of the failed instruction (None on success or another error)."""
    assert isinstance(result, FailedTransactionMetadata), "the transaction succeeded"
    error = result.err()
    if isinstance(error, TransactionErrorInstructionError) and isinstance(
        error.err, InstructionErrorCustom
    ):
        return error.err.code
    return None


@dataclass
class World:
    svm: LiteSVM
    payer: Keypair
    program_id: Pubkey
    admin: Keypair  # the staking admin
    kyc: Keypair  # the mint's admin, mint authority and freeze authority (KYC)
    mint: Pubkey
    fee_bps: int
    max_fee: int

    def send(self, instructions: list[Instruction], *signers: Keypair) -> Result:
        message = Message.new_with_blockhash(
            instructions, self.payer.pubkey(), self.svm.latest_blockhash()
        )
        unique = {bytes(k.pubkey()): k for k in (self.payer, *signers)}
        result = self.svm.send_transaction(VersionedTransaction(message, list(unique.values())))
        self.svm.expire_blockhash()  # the same transaction may be sent again
        return result

    def ok(self, instructions: list[Instruction], *signers: Keypair) -> TransactionMetadata:
        result = self.send(instructions, *signers)
        assert not isinstance(result, FailedTransactionMetadata), "\n".join(
            [str(result.err()), *result.meta().logs()]
        )
        return result

    def fails(self, error: StakingError | int, instructions, *signers: Keypair) -> None:
        result = self.send(instructions, *signers)
        assert custom_error(result) == error, "\n".join([str(result.err()), *result.meta().logs()])

    def set_time(self, unix: int) -> None:
        clock = self.svm.get_clock()
        self.svm.set_clock(
            Clock(clock.slot, clock.epoch_start_timestamp, clock.epoch, clock.epoch, unix)
        )

    @property
    def vault(self) -> Pubkey:
        return staking.vault_token_account(self.program_id, self.mint)

    def balance(self, token_account: Pubkey) -> int:
        return parse_token_account(self.svm.get_account(token_account).data).amount

    def config(self) -> staking.StakingConfig:
        return staking.parse_config(
            self.svm.get_account(staking.config_address(self.program_id)).data
        )

    def position(self, owner: Keypair, nonce: int) -> Position | None:
        address = staking.position_address(self.program_id, owner.pubkey(), nonce)
        account = self.svm.get_account(address)
        if account is None or account.lamports == 0:
            return None
        return staking.parse_position(account.data, address)

    def token_account(self, owner: Pubkey, *, thawed: bool = True) -> Pubkey:
        """The owner's EVCH account, created frozen (DefaultAccountState) and thawed (KYC)."""
        ata = associated_token_address(owner, self.mint)
        ixs = [create_associated_token_account_idempotent(self.payer.pubkey(), owner, self.mint)]
        if not thawed:
            self.ok(ixs)
            return ata
        self.ok([*ixs, thaw_account(ata, self.mint, self.kyc.pubkey())], self.kyc)
        return ata

    def holder(self, evch: int = 20_000, *, thawed: bool = True) -> tuple[Keypair, Pubkey]:
        """A KYC'd holder with SOL for rent and `evch` EVCH in their token account."""
        owner = Keypair()
        self.svm.airdrop(owner.pubkey(), 10**9)
        ata = self.token_account(owner.pubkey(), thawed=thawed)
        if evch:
            self.ok([mint_to(self.mint, ata, self.kyc.pubkey(), evch * EVCH)], self.kyc)
        return owner, ata

    def initialize_ix(self, admin: Pubkey | None = None) -> Instruction:
        return staking.initialize(
            self.program_id,
            admin=admin or self.admin.pubkey(),
            mint=self.mint,
            min_lock_s=MIN_LOCK_S,
            max_lock_s=MAX_LOCK_S,
            tiers=TIERS,
        )

    def stake_ix(self, owner: Keypair, source: Pubkey, amount: int, lock_s: int, nonce: int):
        return staking.stake(
            self.program_id,
            owner=owner.pubkey(),
            source=source,
            mint=self.mint,
            amount=amount,
            lock_s=lock_s,
            nonce=nonce,
        )

    def unstake_ix(self, signer: Keypair, owner: Keypair, nonce: int, destination: Pubkey):
        return staking.unstake(
            self.program_id,
            owner=signer.pubkey(),
            position=staking.position_address(self.program_id, owner.pubkey(), nonce),
            destination=destination,
            mint=self.mint,
        )


def make_world(
    svm: LiteSVM,
    payer: Keypair,
    program_id: Pubkey,
    *,
    fee_bps: int = 0,
    max_fee: int = 0,
    initialize: bool = True,
) -> World:
    kyc, admin = Keypair(), Keypair()
    svm.airdrop(admin.pubkey(), 10**9)
    mint = Keypair()
    config = EvchMintConfig(
        admin=kyc.pubkey(),
        freeze_authority=kyc.pubkey(),
        fee_config_authority=kyc.pubkey(),
        fee_withdraw_authority=kyc.pubkey(),
        permanent_delegate=kyc.pubkey(),
        transfer_fee_bps=fee_bps,
        maximum_fee=max_fee,
    )
    world = World(svm, payer, program_id, admin, kyc, mint.pubkey(), fee_bps, max_fee)
    world.set_time(T0)
    world.ok(
        create_evch_mint(
            config, payer=payer.pubkey(), mint=mint.pubkey(), mint_authority=kyc.pubkey()
        ),
        mint,
        kyc,
    )
    # the vault: the vault PDA's associated account, frozen by default, thawed by KYC
    vault_authority = staking.vault_authority_address(program_id)
    assert world.token_account(vault_authority) == world.vault
    if initialize:
        world.ok([world.initialize_ix()], admin)
    return world


@pytest.fixture
def world(svm: LiteSVM, payer: Keypair, staking_so: bytes) -> World:
    program_id = Keypair().pubkey()
    load_program(svm, program_id, staking_so)
    return make_world(svm, payer, program_id)


# ---------------------------------------------------------------------------- initialize


def test_initialize_records_the_config(world: World) -> None:
    config = world.config()
    assert config.admin == world.admin.pubkey()
    assert config.mint == world.mint
    assert config.vault == world.vault
    assert config.vault_authority == staking.vault_authority_address(world.program_id)
    assert config.token_program == TOKEN_2022_PROGRAM_ID
    assert config.decimals == 6
    assert (config.min_lock_s, config.max_lock_s) == (MIN_LOCK_S, MAX_LOCK_S)
    assert config.tiers == TIERS
    assert (config.total_staked, config.open_positions, config.paused) == (0, 0, False)
    account = world.svm.get_account(staking.config_address(world.program_id))
    assert account.owner == world.program_id
    assert len(account.data) == staking.CONFIG_LEN
    assert account.lamports == world.svm.minimum_balance_for_rent_exemption(staking.CONFIG_LEN)
    # a second Initialize is refused
    world.fails(StakingError.ALREADY_INITIALIZED, [world.initialize_ix()], world.admin)


def test_initialize_checks_the_vault(svm: LiteSVM, payer: Keypair, staking_so: bytes) -> None:
    program_id = Keypair().pubkey()
    load_program(svm, program_id, staking_so)
    world = make_world(svm, payer, program_id, initialize=False)
    # a token account of the mint owned by someone else than the vault PDA
    _, not_the_vaults = world.holder(0)
    ix = staking.initialize(
        program_id,
        admin=world.admin.pubkey(),
        mint=world.mint,
        min_lock_s=0,
        max_lock_s=DAY,
        vault=not_the_vaults,
    )
    world.fails(StakingError.INVALID_ACCOUNT, [ix], world.admin)
    # the vault of another mint
    other = make_world(svm, payer, program_id, initialize=False)
    ix = staking.initialize(
        program_id,
        admin=world.admin.pubkey(),
        mint=world.mint,
        min_lock_s=0,
        max_lock_s=DAY,
        vault=other.vault,
    )
    world.fails(StakingError.INVALID_ACCOUNT, [ix], world.admin)
    # min lock above max lock; nine tiers (encoded by hand: the client refuses them)
    bad_lockup = world.initialize_ix()
    data = bytearray(bad_lockup.data)
    data[1:17] = struct.pack("<QQ", 10, 5)
    world.fails(StakingError.INVALID_LOCKUP, [_with_data(bad_lockup, bytes(data))], world.admin)
    nine = bytes([0]) + struct.pack("<QQ", 0, DAY) + bytes([9]) + Tier(1, 0, 1).pack() * 9
    world.fails(StakingError.TOO_MANY_TIERS, [_with_data(bad_lockup, nine)], world.admin)
    world.ok([world.initialize_ix()], world.admin)


def test_initialize_on_a_prefunded_config_address(
    svm: LiteSVM, payer: Keypair, staking_so: bytes
) -> None:
    """Lamports sent to the config address before Initialize do not block it."""
    program_id = Keypair().pubkey()
    load_program(svm, program_id, staking_so)
    world = make_world(svm, payer, program_id, initialize=False)
    config = staking.config_address(program_id)
    world.ok(
        [
            transfer(
                TransferParams(
                    from_pubkey=payer.pubkey(),
                    to_pubkey=config,
                    lamports=svm.minimum_balance_for_rent_exemption(0),
                )
            )
        ]
    )
    world.ok([world.initialize_ix()], world.admin)
    account = svm.get_account(config)
    assert account.owner == program_id
    assert account.lamports == svm.minimum_balance_for_rent_exemption(staking.CONFIG_LEN)
    assert world.config().admin == world.admin.pubkey()


def _with_data(ix: Instruction, data: bytes) -> Instruction:
    return Instruction(ix.program_id, data, ix.accounts)


# ---------------------------------------------------------------------------- stake / unstake


def test_stake_moves_tokens_into_the_vault_and_records_the_position(world: World) -> None:
    owner, ata = world.holder(5_000)
    world.set_time(T0 + 123)
    world.ok([world.stake_ix(owner, ata, 1_000 * EVCH, 90 * DAY, nonce=0)], owner)

    assert world.balance(world.vault) == 1_000 * EVCH
    assert world.balance(ata) == 4_000 * EVCH
    position = world.position(owner, 0)
    assert position == Position(
        owner=owner.pubkey(),
        nonce=0,
        amount=1_000 * EVCH,
        deposited=1_000 * EVCH,
        lock_start=T0 + 123,
        lock_end=T0 + 123 + 90 * DAY,
        tier=2,
        discount_bps=500,
        bump=position.bump,
        address=staking.position_address(world.program_id, owner.pubkey(), 0),
    )
    account = world.svm.get_account(position.address)
    assert account.owner == world.program_id
    assert len(account.data) == staking.POSITION_LEN
    config = world.config()
    assert (config.total_staked, config.open_positions) == (1_000 * EVCH, 1)

    # the same nonce again: that position exists
    world.fails(
        StakingError.ALREADY_INITIALIZED,
        [world.stake_ix(owner, ata, EVCH, 90 * DAY, nonce=0)],
        owner,
    )


def test_unstake_only_at_the_end_of_the_lock(world: World) -> None:
    owner, ata = world.holder(5_000)
    world.ok([world.stake_ix(owner, ata, 1_000 * EVCH, 30 * DAY, nonce=7)], owner)
    position = world.position(owner, 7)
    lamports_before = world.svm.get_balance(owner.pubkey())
    rent = world.svm.get_account(position.address).lamports

    world.set_time(position.lock_end - 1)
    world.fails(StakingError.EARLY_UNSTAKE, [world.unstake_ix(owner, owner, 7, ata)], owner)
    assert world.balance(world.vault) == 1_000 * EVCH

    world.set_time(position.lock_end)  # at the end of the lock
    world.ok([world.unstake_ix(owner, owner, 7, ata)], owner)
    assert world.balance(ata) == 5_000 * EVCH
    assert world.balance(world.vault) == 0
    assert world.position(owner, 7) is None  # closed
    closed = world.svm.get_account(position.address)
    assert closed is None or (closed.lamports, len(closed.data)) == (0, 0)
    # the position's rent went back to the owner (the payer paid the fees)
    assert world.svm.get_balance(owner.pubkey()) == lamports_before + rent
    config = world.config()
    assert (config.total_staked, config.open_positions) == (0, 0)
    # and it cannot be unstaked twice
    result = world.send([world.unstake_ix(owner, owner, 7, ata)], owner)
    assert custom_error(result) == StakingError.INVALID_ACCOUNT


def test_a_stranger_cannot_unstake_someone_elses_position(world: World) -> None:
    owner, ata = world.holder()
    stranger, stranger_ata = world.holder(0)
    world.ok([world.stake_ix(owner, ata, 500 * EVCH, 30 * DAY, nonce=1)], owner)
    world.set_time(T0 + 31 * DAY)
    for destination in (stranger_ata, ata):
        world.fails(
            StakingError.NOT_OWNER, [world.unstake_ix(stranger, owner, 1, destination)], stranger
        )
    # the owner's signature is needed, not just their key
    ix = world.unstake_ix(owner, owner, 1, ata)
    accounts = list(ix.accounts)
    accounts[0] = AccountMeta(owner.pubkey(), is_signer=False, is_writable=True)
    world.fails(StakingError.NOT_OWNER, [Instruction(ix.program_id, ix.data, accounts)])
    assert world.balance(stranger_ata) == 0
    world.ok([world.unstake_ix(owner, owner, 1, ata)], owner)
    assert world.balance(ata) == 20_000 * EVCH


def test_zero_amount_and_lock_outside_the_range(world: World) -> None:
    owner, ata = world.holder()
    world.fails(StakingError.ZERO_AMOUNT, [world.stake_ix(owner, ata, 0, 30 * DAY, 0)], owner)
    world.fails(
        StakingError.INVALID_LOCKUP, [world.stake_ix(owner, ata, EVCH, MIN_LOCK_S - 1, 0)], owner
    )
    world.fails(
        StakingError.INVALID_LOCKUP, [world.stake_ix(owner, ata, EVCH, MAX_LOCK_S + 1, 0)], owner
    )
    world.ok([world.stake_ix(owner, ata, EVCH, MIN_LOCK_S, 0)], owner)
    world.ok([world.stake_ix(owner, ata, EVCH, MAX_LOCK_S, 1)], owner)


def test_paused(world: World) -> None:
    owner, ata = world.holder()
    world.ok([world.stake_ix(owner, ata, 100 * EVCH, 30 * DAY, 0)], owner)
    world.fails(
        StakingError.NOT_ADMIN, [staking.set_paused(world.program_id, owner.pubkey(), True)], owner
    )
    world.ok([staking.set_paused(world.program_id, world.admin.pubkey(), True)], world.admin)
    assert world.config().paused
    world.fails(StakingError.PAUSED, [world.stake_ix(owner, ata, 100 * EVCH, 30 * DAY, 1)], owner)
    world.set_time(T0 + 30 * DAY)
    world.fails(StakingError.PAUSED, [world.unstake_ix(owner, owner, 0, ata)], owner)
    world.ok([staking.set_paused(world.program_id, world.admin.pubkey(), False)], world.admin)
    world.ok([world.unstake_ix(owner, owner, 0, ata)], owner)
    world.ok([world.stake_ix(owner, ata, 100 * EVCH, 30 * DAY, 1)], owner)


@pytest.mark.parametrize(
    ("evch", "lock_days", "tier"),
    [
        (99, 365, 0),  # too little for any tier
        (100, 29, 0),  # long enough for none
        (100, 30, 1),
        (5_000, 60, 1),  # amount of tier 2, lock of tier 1
        (1_000, 90, 2),
        (9_999, 365, 2),
        (10_000, 179, 2),  # amount of tier 3, lock of tier 2
        (10_000, 180, 3),
    ],
)
def test_tier_by_amount_and_lock(world: World, evch: int, lock_days: int, tier: int) -> None:
    owner, ata = world.holder(evch)
    world.ok([world.stake_ix(owner, ata, evch * EVCH, lock_days * DAY, 0)], owner)
    position = world.position(owner, 0)
    assert position.tier == tier == staking.qualifying_tier(TIERS, evch * EVCH, lock_days * DAY)
    assert position.discount_bps == (TIERS[tier - 1].discount_bps if tier else 0)


def test_owner_tier_and_fee_discount_over_positions(world: World) -> None:
    owner, ata = world.holder(20_000)
    world.ok(
        [
            world.stake_ix(owner, ata, 200 * EVCH, 400 * DAY, 0),  # tier 1 for 400 days
            world.stake_ix(owner, ata, 12_000 * EVCH, 180 * DAY, 1),  # tier 3 for 180 days
            world.stake_ix(owner, ata, 2_000 * EVCH, 7 * DAY, 2),  # no tier (lock too short)
        ],
        owner,
    )
    other, other_ata = world.holder()
    world.ok([world.stake_ix(other, other_ata, 1_000 * EVCH, 90 * DAY, 0)], other)

    accounts = world.svm.get_program_accounts(world.program_id)
    positions = staking.positions_of(((k, a.data) for k, a in accounts), owner.pubkey())
    assert sorted(p.nonce for p in positions) == [0, 1, 2]
    start = datetime.fromtimestamp(T0, UTC)
    assert staking.tier_of(positions, start) == 3
    assert staking.fee_discount_bps(positions, start) == 1_000
    assert staking.fee_discount_bps(positions, T0 + 180 * DAY - 1) == 1_000
    # the tier-3 lock has ended: the tier-1 position is the best still locked
    assert staking.tier_of(positions, start + timedelta(days=180)) == 1
    assert staking.fee_discount_bps(positions, T0 + 180 * DAY) == 200
    assert staking.fee_discount_bps(positions, T0 + 400 * DAY) == 0
    assert staking.tier_of([], T0) == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        staking.tier_of(positions, datetime(2026, 1, 1))


def test_set_tiers(world: World) -> None:
    owner, ata = world.holder()
    world.ok([world.stake_ix(owner, ata, 1_000 * EVCH, 90 * DAY, 0)], owner)
    new_tiers = (Tier(0, 0, 50), Tier(500 * EVCH, 30 * DAY, 2_500))
    world.fails(
        StakingError.NOT_ADMIN,
        [staking.set_tiers(world.program_id, owner.pubkey(), new_tiers)],
        owner,
    )
    world.ok([staking.set_tiers(world.program_id, world.admin.pubkey(), new_tiers)], world.admin)
    assert world.config().tiers == new_tiers
    # the open position keeps the tier it was staked with; new stakes get the new table
    assert (world.position(owner, 0).tier, world.position(owner, 0).discount_bps) == (2, 500)
    world.ok([world.stake_ix(owner, ata, 1_000 * EVCH, 90 * DAY, 1)], owner)
    assert (world.position(owner, 1).tier, world.position(owner, 1).discount_bps) == (2, 2_500)
    world.ok([world.stake_ix(owner, ata, 10 * EVCH, 7 * DAY, 2)], owner)
    assert (world.position(owner, 2).tier, world.position(owner, 2).discount_bps) == (1, 50)

    # up to eight tiers; nine and a discount above 100 % are refused (encoded by hand)
    eight = tuple(Tier(i * EVCH, i * DAY, i * 100) for i in range(8))
    world.ok([staking.set_tiers(world.program_id, world.admin.pubkey(), eight)], world.admin)
    assert world.config().tiers == eight
    template = staking.set_tiers(world.program_id, world.admin.pubkey(), ())
    nine = bytes([staking.StakingInstruction.SET_TIERS, 9]) + Tier(0, 0, 1).pack() * 9
    world.fails(StakingError.TOO_MANY_TIERS, [_with_data(template, nine)], world.admin)
    too_much = bytes([staking.StakingInstruction.SET_TIERS, 1]) + struct.pack("<QQH", 0, 0, 10_001)
    world.fails(StakingError.INVALID_INSTRUCTION, [_with_data(template, too_much)], world.admin)
    truncated = bytes([staking.StakingInstruction.SET_TIERS, 2]) + Tier(0, 0, 1).pack()
    world.fails(StakingError.INVALID_INSTRUCTION, [_with_data(template, truncated)], world.admin)
    world.fails(StakingError.INVALID_INSTRUCTION, [_with_data(template, b"\x63")], world.admin)
    assert world.config().tiers == eight


def test_admin_hands_over_and_sets_the_lockup(world: World) -> None:
    successor = Keypair()
    world.fails(
        StakingError.NOT_ADMIN,
        [staking.set_lockup(world.program_id, successor.pubkey(), 0, DAY)],
        successor,
    )
    world.ok(
        [staking.set_admin(world.program_id, world.admin.pubkey(), successor.pubkey())],
        world.admin,
        successor,
    )
    assert world.config().admin == successor.pubkey()
    world.fails(
        StakingError.NOT_ADMIN,
        [staking.set_lockup(world.program_id, world.admin.pubkey(), 0, DAY)],
        world.admin,
    )
    world.ok([staking.set_lockup(world.program_id, successor.pubkey(), 0, DAY)], successor)
    assert (world.config().min_lock_s, world.config().max_lock_s) == (0, DAY)
    owner, ata = world.holder()
    world.fails(StakingError.INVALID_LOCKUP, [world.stake_ix(owner, ata, EVCH, DAY + 1, 0)], owner)
    world.ok([world.stake_ix(owner, ata, EVCH, 0, 0)], owner)  # no lock at all
    world.ok([world.unstake_ix(owner, owner, 0, ata)], owner)


# ---------------------------------------------------------------------------- tokens


def test_transfer_fee_position_records_what_arrived(
    svm: LiteSVM, payer: Keypair, staking_so: bytes
) -> None:
    """EVCH with a 1 % transfer fee: the vault receives the amount less the fee, withheld in the
    vault; the position records what arrived, and unstaking pays the fee once more."""
    program_id = Keypair().pubkey()
    load_program(svm, program_id, staking_so)
    world = make_world(svm, payer, program_id, fee_bps=100, max_fee=50 * EVCH)
    owner, ata = world.holder(5_000)
    sent = 1_000 * EVCH
    fee = transfer_fee(sent, 100, 50 * EVCH)
    assert fee == 10 * EVCH
    world.ok([world.stake_ix(owner, ata, sent, 90 * DAY, 0)], owner)
    vault = parse_token_account(svm.get_account(world.vault).data)
    assert (vault.amount, vault.withheld_amount) == (sent - fee, fee)
    position = world.position(owner, 0)
    assert (position.amount, position.deposited) == (sent - fee, sent)
    assert position.tier == 1  # 990 EVCH: below tier 2's 1,000
    assert world.config().total_staked == sent - fee

    world.set_time(position.lock_end)
    world.ok([world.unstake_ix(owner, owner, 0, ata)], owner)
    back = sent - fee
    assert world.balance(ata) == 4_000 * EVCH + back - transfer_fee(back, 100, 50 * EVCH)
    assert world.balance(world.vault) == 0
    assert world.config().total_staked == 0


def test_a_frozen_token_account_cannot_stake(world: World) -> None:
    """Before KYC thaws it, the owner's account is frozen: Token-2022's own error comes back."""
    owner, ata = world.holder(0, thawed=False)
    result = world.send([world.stake_ix(owner, ata, EVCH, 30 * DAY, 0)], owner)
    assert custom_error(result) == TokenError.ACCOUNT_FROZEN
    assert StakingError.from_code(TokenError.ACCOUNT_FROZEN) is None
    assert world.position(owner, 0) is None


def test_wrong_accounts_are_refused(world: World) -> None:
    owner, ata = world.holder()
    ix = world.stake_ix(owner, ata, EVCH, 30 * DAY, 0)

    def replaced(index: int, key: Pubkey, *, writable: bool | None = None) -> Instruction:
        accounts = list(ix.accounts)
        old = accounts[index]
        w = old.is_writable if writable is None else writable
        accounts[index] = AccountMeta(key, is_signer=old.is_signer, is_writable=w)
        return Instruction(ix.program_id, ix.data, accounts)

    # an attacker's token account as the vault, another mint, the legacy token program,
    # a position address of another nonce, a config that is not the config
    _, other_ata = world.holder(0)
    other_position = staking.position_address(world.program_id, owner.pubkey(), 1)
    legacy_token = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
    for index, key in (
        (4, other_ata),
        (5, Keypair().pubkey()),
        (6, legacy_token),
        (2, other_position),
        (1, other_ata),
    ):
        world.fails(StakingError.INVALID_ACCOUNT, [replaced(index, key)], owner)
    world.fails(StakingError.INVALID_ACCOUNT, [replaced(4, world.vault, writable=False)], owner)
    world.fails(StakingError.INVALID_INSTRUCTION, [_with_data(ix, ix.data[:-1])], owner)
    world.fails(StakingError.INVALID_INSTRUCTION, [_with_data(ix, b"\x63")], owner)

    world.ok([ix], owner)
    world.set_time(T0 + 30 * DAY)
    unstake = world.unstake_ix(owner, owner, 0, ata)
    accounts = list(unstake.accounts)
    accounts[6] = AccountMeta(Keypair().pubkey(), is_signer=False, is_writable=False)
    world.fails(
        StakingError.INVALID_ACCOUNT,
        [Instruction(unstake.program_id, unstake.data, accounts)],
        owner,
    )
    world.fails(
        StakingError.INVALID_ACCOUNT, [world.unstake_ix(owner, owner, 0, world.vault)], owner
    )
    world.ok([unstake], owner)


def test_stake_on_a_prefunded_position_address(world: World) -> None:
    """Lamports sent to a position's address beforehand do not block the stake."""
    owner, ata = world.holder()
    address = staking.position_address(world.program_id, owner.pubkey(), 3)
    world.ok(
        [
            transfer(
                TransferParams(
                    from_pubkey=world.payer.pubkey(),
                    to_pubkey=address,
                    lamports=world.svm.minimum_balance_for_rent_exemption(0),
                )
            )
        ]
    )
    world.ok([world.stake_ix(owner, ata, 100 * EVCH, 30 * DAY, 3)], owner)
    assert world.svm.get_account(address).lamports == world.svm.minimum_balance_for_rent_exemption(
        staking.POSITION_LEN
    )
    assert world.position(owner, 3).amount == 100 * EVCH


# ---------------------------------------------------------------------------- deployment, cost


def test_deployed_through_the_upgradeable_loader(
    svm: LiteSVM, payer: Keypair, staking_so: bytes
) -> None:
    """A real deployment (buffer, write, DeployWithMaxDataLen): only the upgrade authority may
    initialise; then a full stake/unstake round. Prints the compute units."""
    program_id = deploy(svm, payer, staking_so)
    world = make_world(svm, payer, program_id, initialize=False)
    world.fails(StakingError.NOT_ADMIN, [world.initialize_ix()], world.admin)  # not the authority
    result = world.ok([world.initialize_ix(payer.pubkey())])
    initialize_cu = result.compute_units_consumed()
    assert world.config().admin == payer.pubkey()

    owner, ata = world.holder(20_000)
    stake_cu = world.ok([world.stake_ix(owner, ata, 10_000 * EVCH, 180 * DAY, 0)], owner)
    stake_cu = stake_cu.compute_units_consumed()
    assert world.position(owner, 0).tier == 3
    world.set_time(T0 + 180 * DAY)
    unstake_cu = world.ok([world.unstake_ix(owner, owner, 0, ata)], owner)
    unstake_cu = unstake_cu.compute_units_consumed()
    assert world.balance(ata) == 20_000 * EVCH
    print(f"\nstaking CU: Initialize {initialize_cu}, Stake {stake_cu}, Unstake {unstake_cu}")
    # well inside the 200,000 default budget of an instruction
    assert stake_cu < 40_000
    assert unstake_cu < 30_000


# ---------------------------------------------------------------------------- client


def test_client_refuses_what_the_program_would() -> None:
    program_id = Keypair().pubkey()
    with pytest.raises(ValueError, match="at most 8 tiers"):
        staking.set_tiers(program_id, program_id, [Tier(0, 0, 0)] * 9)
    with pytest.raises(ValueError, match="discount_bps"):
        Tier(0, 0, 10_001)
    with pytest.raises(ValueError, match="min_lock_s <= max_lock_s"):
        staking.set_lockup(program_id, program_id, 2, 1)
    with pytest.raises(ValueError, match="u64"):
        staking.position_address(program_id, program_id, -1)
    with pytest.raises(ValueError, match="not a staking position"):
        staking.parse_position(bytes(80))
    assert StakingError.EARLY_UNSTAKE.message == "the position is still locked"
    assert StakingError.from_code(6002) is StakingError.EARLY_UNSTAKE


def test_client_mirrors_the_c_source() -> None:
    """Error codes, instruction tags and account sizes are the program's own."""
    source = (staking.PROGRAM_SOURCE / "staking.c").read_text()
    errors = dict(re.findall(r"\bERR_(\w+) = (\d+),", source))
    assert {e.name: e.value for e in StakingError} == {k: int(v) for k, v in errors.items()}
    tags = dict(re.findall(r"\bIX_(\w+) = (\d+),", source))
    assert {i.name: i.value for i in staking.StakingInstruction} == {
        k: int(v) for k, v in tags.items()
    }
    for name in ("CONFIG_LEN", "POSITION_LEN", "MAX_TIERS", "MAX_DISCOUNT_BPS"):
        value = re.search(rf"#define {name} (\d+)", source).group(1)
        assert getattr(staking, name) == int(value), name
