"""The EVCH and Green Credit mints (programs/spl/evch_mint.py) on LiteSVM, one ledger per test.

A keypair stands in for the Proof-of-Charge PDA as mint authority; KYC is the freeze authority,
the treasury withdraws fees, the admin sets them and owns the metadata, the regulator is the
permanent delegate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest
from solders.clock import Clock
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from programs.spl import evch_mint as evch
from programs.spl import token2022 as t22
from programs.spl.evch_mint import EVCH_DECIMALS, RAW_PER_KWH, EvchMintConfig
from programs.spl.results import InstructionFailure, failure, logs, succeeded
from programs.spl.token2022 import (
    AccountState,
    ExtensionType,
    MetadataField,
    TokenError,
    TokenMetadataError,
    TransferFee,
)

FEE_BPS = 50  # 0.5 %
MAX_FEE = 5 * RAW_PER_KWH
PACKET_LIMIT = 1232  # bytes a transaction may take on a cluster (LiteSVM does not check)


def send(svm: LiteSVM, payer: Keypair, instructions: Sequence[Instruction], *signers: Keypair):
    svm.expire_blockhash()
    keys = {k.pubkey(): k for k in (payer, *signers)}
    transaction = Transaction.new_signed_with_payer(
        list(instructions), payer.pubkey(), list(keys.values()), svm.latest_blockhash()
    )
    return svm.send_transaction(transaction), len(bytes(transaction))


def ok(result):
    assert succeeded(result), f"{failure(result)}\n" + "\n".join(logs(result))
    return result


def token_error(result) -> int | None:
    fault = failure(result)
    assert isinstance(fault, InstructionFailure), fault
    return fault.custom


@dataclass
class Evch:
    """A ledger holding a fresh EVCH mint, and the people around it."""

    svm: LiteSVM = field(default_factory=LiteSVM)
    payer: Keypair = field(default_factory=Keypair)
    admin: Keypair = field(default_factory=Keypair)
    kyc: Keypair = field(default_factory=Keypair)
    treasury: Keypair = field(default_factory=Keypair)
    regulator: Keypair = field(default_factory=Keypair)
    minter: Keypair = field(default_factory=Keypair)  # the Proof-of-Charge PDA, later
    mint_keypair: Keypair = field(default_factory=Keypair)

    def __post_init__(self) -> None:
        self.svm.airdrop(self.payer.pubkey(), 100 * 10**9)
        self.config = EvchMintConfig(
            admin=self.admin.pubkey(),
            freeze_authority=self.kyc.pubkey(),
            fee_config_authority=self.admin.pubkey(),
            fee_withdraw_authority=self.treasury.pubkey(),
            permanent_delegate=self.regulator.pubkey(),
            transfer_fee_bps=FEE_BPS,
            maximum_fee=MAX_FEE,
            uri="https://evch.example/evch.json",
        )
        self.mint = self.mint_keypair.pubkey()
        self.creation_instructions = evch.create_evch_mint(
            self.config,
            payer=self.payer.pubkey(),
            mint=self.mint,
            mint_authority=self.minter.pubkey(),
        )
        self.creation, self.creation_size = send(
            self.svm, self.payer, self.creation_instructions, self.mint_keypair, self.admin
        )
        ok(self.creation)

    def send(self, instructions: Sequence[Instruction], *signers: Keypair):
        return send(self.svm, self.payer, instructions, *signers)[0]

    def mint_state(self) -> t22.Mint:
        return t22.parse_mint(bytes(self.svm.get_account(self.mint).data))

    def account(self, address: Pubkey) -> t22.TokenAccount:
        return t22.parse_token_account(bytes(self.svm.get_account(address).data))

    def open_account(self, owner: Pubkey, *, kyc: bool) -> Pubkey:
        """The owner's ATA, thawed when its holder passed KYC."""
        ok(
            self.send(
                [
                    t22.create_associated_token_account_idempotent(
                        self.payer.pubkey(), owner, self.mint
                    )
                ]
            )
        )
        address = t22.associated_token_address(owner, self.mint)
        if kyc:
            ok(self.send([t22.thaw_account(address, self.mint, self.kyc.pubkey())], self.kyc))
        return address

    def issue(self, account: Pubkey, amount: int):
        ix = t22.mint_to_checked(self.mint, account, self.minter.pubkey(), amount, EVCH_DECIMALS)
        return self.send([ix], self.minter)

    def holder(self, amount: int = 0, *, kyc: bool = True) -> tuple[Keypair, Pubkey]:
        owner = Keypair()
        self.svm.airdrop(owner.pubkey(), 10**9)
        address = self.open_account(owner.pubkey(), kyc=kyc)
        if amount:
            ok(self.issue(address, amount))
        return owner, address

    def pay(self, owner: Keypair, source: Pubkey, destination: Pubkey, amount: int, fee=None):
        if fee is None:
            ix = t22.transfer_checked(
                source, self.mint, destination, owner.pubkey(), amount, EVCH_DECIMALS
            )
        else:
            ix = t22.transfer_checked_with_fee(
                source, self.mint, destination, owner.pubkey(), amount, EVCH_DECIMALS, fee
            )
        return self.send([ix], owner)

    def set_epoch(self, epoch: int) -> None:
        now = self.svm.get_clock()
        self.svm.set_clock(
            Clock(now.slot, now.epoch_start_timestamp, epoch, epoch, now.unix_timestamp)
        )


@pytest.fixture
def world() -> Evch:
    return Evch()


# ---------------------------------------------------------------- the mint


def test_create_evch_mint_reads_back_every_extension(world: Evch):
    mint = world.mint_state()
    assert (mint.decimals, mint.supply, mint.is_initialized) == (6, 0, True)
    assert mint.mint_authority == world.minter.pubkey()  # handed over by the last instruction
    assert mint.freeze_authority == world.kyc.pubkey()
    assert mint.extensions == (
        ExtensionType.TRANSFER_FEE_CONFIG,
        ExtensionType.DEFAULT_ACCOUNT_STATE,
        ExtensionType.PERMANENT_DELEGATE,
        ExtensionType.METADATA_POINTER,
        ExtensionType.TOKEN_METADATA,
    )
    fee = mint.transfer_fee_config
    assert fee.config_authority == world.admin.pubkey()
    assert fee.withdraw_authority == world.treasury.pubkey()
    assert fee.withheld_amount == 0
    assert fee.older == fee.newer == TransferFee(epoch=0, maximum_fee=MAX_FEE, basis_points=50)
    assert mint.default_account_state is AccountState.FROZEN
    assert mint.permanent_delegate == world.regulator.pubkey()
    assert mint.metadata_pointer == t22.MetadataPointer(world.admin.pubkey(), world.mint)
    metadata = mint.token_metadata
    assert (metadata.name, metadata.symbol, metadata.uri) == (
        "EVCH",
        "EVCH",
        "https://evch.example/evch.json",
    )
    assert metadata.get("unit") == "kWh" and metadata.update_authority == world.admin.pubkey()
    assert metadata == world.config.token_metadata(world.mint)

    allocated, final = evch.evch_mint_space(world.config, world.mint)
    account = world.svm.get_account(world.mint)
    assert allocated == t22.mint_space(evch.EVCH_MINT_EXTENSIONS) < final == len(account.data)
    assert account.lamports == world.svm.minimum_balance_for_rent_exemption(final)
    assert account.owner == t22.TOKEN_2022_PROGRAM_ID
    assert world.creation_size <= PACKET_LIMIT


def test_mint_authority_may_stay_with_the_admin():
    world = Evch()
    mint = Keypair()
    instructions = evch.create_evch_mint(
        world.config,
        payer=world.payer.pubkey(),
        mint=mint.pubkey(),
        mint_authority=world.admin.pubkey(),
    )
    assert len(instructions) == len(world.creation_instructions) - 1  # no SetAuthority
    ok(world.send(instructions, mint, world.admin))
    state = t22.parse_mint(bytes(world.svm.get_account(mint.pubkey()).data))
    assert state.mint_authority == world.admin.pubkey()


def test_metadata_needs_the_mint_authority_of_the_moment():
    """Why the admin is the mint authority while the mint is built: initialising metadata needs
    the mint authority's signature, which the final one (a program's PDA) cannot give here."""
    world = Evch()
    mint = Keypair()
    instructions = evch.create_evch_mint(
        world.config,
        payer=world.payer.pubkey(),
        mint=mint.pubkey(),
        mint_authority=world.minter.pubkey(),
    )
    index = next(
        i for i, ix in enumerate(instructions) if ix.data[:8] == t22.TOKEN_METADATA_INITIALIZE
    )
    instructions[index] = t22.initialize_token_metadata(
        mint.pubkey(),
        update_authority=world.admin.pubkey(),
        mint_authority=world.minter.pubkey(),
        name="EVCH",
        symbol="EVCH",
        uri="",
    )
    refused = world.send(instructions, mint, world.admin, world.minter)
    assert failure(refused).index == index
    assert token_error(refused) == TokenMetadataError.INCORRECT_MINT_AUTHORITY


def test_config_is_validated():
    key = Pubkey.new_unique()
    roles = dict(
        admin=key,
        freeze_authority=key,
        fee_config_authority=key,
        fee_withdraw_authority=key,
        permanent_delegate=key,
    )
    with pytest.raises(ValueError):
        EvchMintConfig(**roles, transfer_fee_bps=10_001, maximum_fee=0)
    with pytest.raises(ValueError):
        EvchMintConfig(**roles, transfer_fee_bps=1, maximum_fee=2**64)
    with pytest.raises(ValueError):
        EvchMintConfig(
            **roles, transfer_fee_bps=1, maximum_fee=1, additional_metadata=(("a", "1"), ("a", "2"))
        )
    config = EvchMintConfig(**roles, transfer_fee_bps=FEE_BPS, maximum_fee=MAX_FEE)
    assert config.fee(10 * RAW_PER_KWH) == 50_000 and config.fee(10**4 * RAW_PER_KWH) == MAX_FEE
    assert evch.raw_from_energy_wh(12_345) == 12_345_000  # 12.345 kWh = 12.345 EVCH
    with pytest.raises(ValueError):
        evch.raw_from_energy_wh(-1)


# ---------------------------------------------------------------- KYC gating


def test_new_accounts_are_frozen_until_kyc_thaws_them(world: Evch):
    owner = Keypair().pubkey()
    address = world.open_account(owner, kyc=False)
    account = world.account(address)
    assert account.state is AccountState.FROZEN and account.is_frozen
    assert (account.mint, account.owner, account.amount) == (world.mint, owner, 0)
    assert set(account.extensions) == {
        ExtensionType.IMMUTABLE_OWNER,
        ExtensionType.TRANSFER_FEE_AMOUNT,
    }
    assert len(world.svm.get_account(address).data) == t22.account_space(account.extensions)
    assert token_error(world.issue(address, RAW_PER_KWH)) == TokenError.ACCOUNT_FROZEN

    ok(world.send([t22.thaw_account(address, world.mint, world.kyc.pubkey())], world.kyc))
    assert world.account(address).state is AccountState.INITIALIZED
    ok(world.issue(address, RAW_PER_KWH))
    world.open_account(owner, kyc=False)  # idempotent: the existing account is left alone
    assert world.account(address).state is AccountState.INITIALIZED
    assert world.account(address).amount == RAW_PER_KWH


def test_transfers_touching_a_frozen_account_fail(world: Evch):
    alice, a = world.holder(10 * RAW_PER_KWH)
    _, b = world.holder(kyc=False)
    assert token_error(world.pay(alice, a, b, RAW_PER_KWH)) == TokenError.ACCOUNT_FROZEN

    ok(world.send([t22.thaw_account(b, world.mint, world.kyc.pubkey())], world.kyc))
    ok(world.send([t22.freeze_account(a, world.mint, world.kyc.pubkey())], world.kyc))
    assert world.account(a).is_frozen
    assert token_error(world.pay(alice, a, b, RAW_PER_KWH)) == TokenError.ACCOUNT_FROZEN
    fee = world.config.fee(RAW_PER_KWH)
    refused = world.pay(alice, a, b, RAW_PER_KWH, fee=fee)
    assert token_error(refused) == TokenError.ACCOUNT_FROZEN
    assert world.account(a).amount == 10 * RAW_PER_KWH and world.account(b).amount == 0


def test_freeze_thaw_and_mint_need_their_authorities(world: Evch):
    _, a = world.holder(kyc=False)
    refused = world.send([t22.thaw_account(a, world.mint, world.admin.pubkey())], world.admin)
    assert token_error(refused) == TokenError.OWNER_MISMATCH
    ok(world.send([t22.thaw_account(a, world.mint, world.kyc.pubkey())], world.kyc))
    again = world.send([t22.thaw_account(a, world.mint, world.kyc.pubkey())], world.kyc)
    assert token_error(again) == TokenError.INVALID_STATE  # thawing needs a frozen account

    # After the handover the admin can no longer mint; only the mint authority can.
    by_admin = t22.mint_to(world.mint, a, world.admin.pubkey(), 1)
    assert token_error(world.send([by_admin], world.admin)) == TokenError.OWNER_MISMATCH
    ok(world.send([t22.mint_to(world.mint, a, world.minter.pubkey(), 7)], world.minter))
    refused = world.send(
        [t22.freeze_account(a, world.mint, world.regulator.pubkey())], world.regulator
    )
    assert token_error(refused) == TokenError.OWNER_MISMATCH
    assert world.account(a).amount == 7 and world.mint_state().supply == 7


def test_update_default_account_state(world: Evch):
    initialized = t22.update_default_account_state(
        world.mint, world.kyc.pubkey(), AccountState.INITIALIZED
    )
    refused = world.send(
        [
            t22.update_default_account_state(
                world.mint, world.admin.pubkey(), AccountState.INITIALIZED
            )
        ],
        world.admin,
    )
    assert token_error(refused) == TokenError.OWNER_MISMATCH
    _, before = world.holder(kyc=False)
    ok(world.send([initialized], world.kyc))
    assert world.mint_state().default_account_state is AccountState.INITIALIZED
    _, after = world.holder(kyc=False)
    assert world.account(after).state is AccountState.INITIALIZED
    ok(world.issue(after, 1))
    assert world.account(before).is_frozen  # existing accounts keep their state

    frozen = t22.update_default_account_state(world.mint, world.kyc.pubkey(), AccountState.FROZEN)
    ok(world.send([frozen], world.kyc))
    _, later = world.holder(kyc=False)
    assert world.account(later).is_frozen


# ---------------------------------------------------------------- transfer fee


def test_transfer_with_fee_withholds_the_fee_on_the_recipient(world: Evch):
    alice, a = world.holder(100 * RAW_PER_KWH)
    _, b = world.holder()
    amount = 10 * RAW_PER_KWH
    fee = world.config.fee(amount)
    assert fee == 50_000  # 0.5 % of 10 kWh = 50 Wh

    wrong_fee = world.pay(alice, a, b, amount, fee=fee - 1)
    assert token_error(wrong_fee) == TokenError.FEE_MISMATCH
    wrong_decimals = world.send(
        [t22.transfer_checked_with_fee(a, world.mint, b, alice.pubkey(), amount, 3, fee)], alice
    )
    assert token_error(wrong_decimals) == TokenError.MINT_DECIMALS_MISMATCH
    ok(world.pay(alice, a, b, amount, fee=fee))
    sender, recipient = world.account(a), world.account(b)
    assert sender.amount == 90 * RAW_PER_KWH and sender.withheld_amount == 0
    assert recipient.amount == amount - fee and recipient.withheld_amount == fee

    # TransferChecked withholds the same fee without being told; odd amounts round up, big
    # ones stop at the maximum.
    withheld = fee
    for amount in (1, 2 * RAW_PER_KWH - 345, 1_500 * RAW_PER_KWH):
        ok(world.issue(a, amount))
        ok(world.pay(alice, a, b, amount))
        withheld += world.config.fee(amount)
    assert world.config.fee(1_500 * RAW_PER_KWH) == MAX_FEE
    assert world.account(b).withheld_amount == withheld
    assert world.mint_state().supply == world.account(a).amount + world.account(b).amount + withheld


def test_withdraw_withheld_fees_from_accounts_to_the_treasury(world: Evch):
    alice, a = world.holder(100 * RAW_PER_KWH)
    _, b = world.holder()
    _, c = world.holder()
    ok(world.pay(alice, a, b, 10 * RAW_PER_KWH))
    ok(world.pay(alice, a, c, 20 * RAW_PER_KWH))
    fees = world.config.fee(10 * RAW_PER_KWH) + world.config.fee(20 * RAW_PER_KWH)
    treasury = world.open_account(world.treasury.pubkey(), kyc=False)

    def withdraw(authority: Keypair):
        ix = t22.withdraw_withheld_tokens_from_accounts(
            world.mint, treasury, authority.pubkey(), [b, c]
        )
        return world.send([ix], authority)

    assert token_error(withdraw(world.admin)) == TokenError.OWNER_MISMATCH
    assert token_error(withdraw(world.treasury)) == TokenError.ACCOUNT_FROZEN  # treasury too
    ok(world.send([t22.thaw_account(treasury, world.mint, world.kyc.pubkey())], world.kyc))
    ok(withdraw(world.treasury))
    assert world.account(treasury).amount == fees
    assert world.account(b).withheld_amount == world.account(c).withheld_amount == 0
    assert world.account(treasury).withheld_amount == 0


def test_harvest_to_the_mint_then_withdraw_from_the_mint(world: Evch):
    alice, a = world.holder(100 * RAW_PER_KWH)
    _, b = world.holder()
    ok(world.pay(alice, a, b, 30 * RAW_PER_KWH))
    fee = world.config.fee(30 * RAW_PER_KWH)
    ok(world.send([t22.freeze_account(b, world.mint, world.kyc.pubkey())], world.kyc))

    ok(world.send([t22.harvest_withheld_tokens_to_mint(world.mint, [b])]))  # anyone, frozen too
    assert world.account(b).withheld_amount == 0
    assert world.mint_state().transfer_fee_config.withheld_amount == fee

    treasury = world.open_account(world.treasury.pubkey(), kyc=True)
    by_admin = t22.withdraw_withheld_tokens_from_mint(world.mint, treasury, world.admin.pubkey())
    assert token_error(world.send([by_admin], world.admin)) == TokenError.OWNER_MISMATCH
    ix = t22.withdraw_withheld_tokens_from_mint(world.mint, treasury, world.treasury.pubkey())
    ok(world.send([ix], world.treasury))
    assert world.account(treasury).amount == fee
    assert world.mint_state().transfer_fee_config.withheld_amount == 0


def test_set_transfer_fee_applies_two_epochs_later(world: Evch):
    alice, a = world.holder(1_000 * RAW_PER_KWH)
    _, b = world.holder()
    refused = world.send(
        [t22.set_transfer_fee(world.mint, world.treasury.pubkey(), 100, RAW_PER_KWH)],
        world.treasury,
    )
    assert token_error(refused) == TokenError.OWNER_MISMATCH

    ok(
        world.send(
            [t22.set_transfer_fee(world.mint, world.admin.pubkey(), 100, RAW_PER_KWH)], world.admin
        )
    )
    config = world.mint_state().transfer_fee_config
    assert config.older == TransferFee(0, MAX_FEE, FEE_BPS)
    assert config.newer == TransferFee(2, RAW_PER_KWH, 100)

    amount = 10 * RAW_PER_KWH
    old_fee, new_fee = config.older.fee(amount), config.newer.fee(amount)
    assert (old_fee, new_fee) == (50_000, 100_000)
    assert token_error(world.pay(alice, a, b, amount, fee=new_fee)) == TokenError.FEE_MISMATCH
    ok(world.pay(alice, a, b, amount, fee=old_fee))

    world.set_epoch(2)
    assert config.fee_in_epoch(2) == config.newer
    assert token_error(world.pay(alice, a, b, amount, fee=old_fee)) == TokenError.FEE_MISMATCH
    ok(world.pay(alice, a, b, amount, fee=new_fee))
    ok(world.pay(alice, a, b, 500 * RAW_PER_KWH))  # capped at the new maximum, 1 kWh
    assert world.account(b).withheld_amount == old_fee + new_fee + RAW_PER_KWH


# ---------------------------------------------------------------- permanent delegate


def test_permanent_delegate_claws_back_and_burns_without_the_holder(world: Evch):
    _, a = world.holder(100 * RAW_PER_KWH)
    treasury = world.open_account(world.treasury.pubkey(), kyc=True)
    regulator = world.regulator.pubkey()

    take = t22.transfer_checked(a, world.mint, treasury, regulator, 30 * RAW_PER_KWH, EVCH_DECIMALS)
    ok(world.send([take], world.regulator))  # the holder does not sign
    assert world.account(a).amount == 70 * RAW_PER_KWH
    fee = world.config.fee(30 * RAW_PER_KWH)
    assert world.account(treasury).amount == 30 * RAW_PER_KWH - fee  # the fee applies as usual

    ok(
        world.send(
            [t22.burn_checked(a, world.mint, regulator, 20 * RAW_PER_KWH, EVCH_DECIMALS)],
            world.regulator,
        )
    )
    assert world.account(a).amount == 50 * RAW_PER_KWH
    assert world.mint_state().supply == 80 * RAW_PER_KWH

    stranger = Keypair()
    forged = t22.transfer_checked(a, world.mint, treasury, stranger.pubkey(), 1, EVCH_DECIMALS)
    assert token_error(world.send([forged], stranger)) == TokenError.OWNER_MISMATCH


def test_clawback_from_a_frozen_account(world: Evch):
    _, a = world.holder(100 * RAW_PER_KWH)
    treasury = world.open_account(world.treasury.pubkey(), kyc=True)
    ok(world.send([t22.freeze_account(a, world.mint, world.kyc.pubkey())], world.kyc))

    plain = evch.clawback(
        world.config,
        world.mint,
        source=a,
        destination=treasury,
        amount=RAW_PER_KWH,
        source_frozen=False,
    )
    assert token_error(world.send(plain, world.regulator)) == TokenError.ACCOUNT_FROZEN

    instructions = evch.clawback(
        world.config,
        world.mint,
        source=a,
        destination=treasury,
        amount=40 * RAW_PER_KWH,
        source_frozen=True,
    )
    ok(world.send(instructions, world.regulator, world.kyc))
    assert world.account(a).amount == 60 * RAW_PER_KWH
    assert world.account(a).is_frozen  # frozen again in the same transaction
    assert world.account(treasury).amount == 40 * RAW_PER_KWH - world.config.fee(40 * RAW_PER_KWH)


def test_burn_from_a_thawed_and_from_a_frozen_account(world: Evch):
    """The regulator burns without the holder; a frozen account is thawed and frozen again
    around the burn (a plain burn from it is refused), and only the freeze authority can."""
    _, a = world.holder(100 * RAW_PER_KWH)

    def burn(amount: int, *, frozen: bool):
        config = world.config
        return evch.burn_from(config, world.mint, source=a, amount=amount, source_frozen=frozen)

    ok(world.send(burn(10 * RAW_PER_KWH, frozen=False), world.regulator))
    assert world.account(a).amount == 90 * RAW_PER_KWH
    assert world.mint_state().supply == 90 * RAW_PER_KWH

    ok(world.send([t22.freeze_account(a, world.mint, world.kyc.pubkey())], world.kyc))
    assert token_error(world.send(burn(1, frozen=False), world.regulator)) == (
        TokenError.ACCOUNT_FROZEN
    )
    stranger = Keypair()  # posing as the freeze authority
    forged = evch.burn_from(
        replace(world.config, freeze_authority=stranger.pubkey()),
        world.mint,
        source=a,
        amount=1,
        source_frozen=True,
    )
    assert token_error(world.send(forged, world.regulator, stranger)) == TokenError.OWNER_MISMATCH
    ok(world.send(burn(25 * RAW_PER_KWH, frozen=True), world.regulator, world.kyc))
    assert world.account(a).amount == 65 * RAW_PER_KWH
    assert world.mint_state().supply == 65 * RAW_PER_KWH
    assert world.account(a).is_frozen  # frozen again in the same transaction


# ---------------------------------------------------------------- metadata


def test_metadata_is_read_from_the_mint_and_updated_by_the_admin(world: Evch):
    metadata = world.mint_state().token_metadata
    assert (metadata.name, metadata.symbol, metadata.get("unit")) == ("EVCH", "EVCH", "kWh")

    same_size = t22.update_token_metadata_field(world.mint, world.admin.pubkey(), "unit", "MWh")
    ok(world.send([same_size], world.admin))
    assert world.mint_state().token_metadata.get("unit") == "MWh"

    forged = t22.update_token_metadata_field(world.mint, world.regulator.pubkey(), "unit", "Wh")
    refused = world.send([forged], world.regulator)
    assert token_error(refused) == TokenMetadataError.INCORRECT_UPDATE_AUTHORITY

    uri = "https://evch.example/metadata/v2/evch-token.json"
    longer = world.config.token_metadata(world.mint)
    longer = t22.TokenMetadata(
        world.mint, "EV Charge Token", "EVCH", uri, longer.update_authority, (("unit", "MWh"),)
    )
    final = t22.mint_space(evch.EVCH_MINT_EXTENSIONS, longer)
    top_up = transfer(
        TransferParams(
            from_pubkey=world.payer.pubkey(),
            to_pubkey=world.mint,
            lamports=t22.rent_exempt_lamports(final) - world.svm.get_balance(world.mint),
        )
    )
    updates = [
        t22.update_token_metadata_field(world.mint, world.admin.pubkey(), MetadataField.URI, uri),
        t22.update_token_metadata_field(
            world.mint, world.admin.pubkey(), MetadataField.NAME, "EV Charge Token"
        ),
    ]
    ok(world.send([top_up, *updates], world.admin))
    assert world.mint_state().token_metadata == longer
    assert len(world.svm.get_account(world.mint).data) == final


# ---------------------------------------------------------------- green credits


def test_green_credits_can_be_minted_and_retired_but_not_transferred(world: Evch):
    config = evch.GreenCreditMintConfig(admin=world.admin.pubkey())
    green = Keypair()
    instructions = evch.create_green_credit_mint(
        config,
        payer=world.payer.pubkey(),
        mint=green.pubkey(),
        mint_authority=world.minter.pubkey(),
    )
    result, size = send(world.svm, world.payer, instructions, green, world.admin)
    ok(result)
    assert size <= PACKET_LIMIT
    mint = t22.parse_mint(bytes(world.svm.get_account(green.pubkey()).data))
    assert mint.non_transferable and mint.decimals == evch.GREEN_CREDIT_DECIMALS
    assert mint.extensions == (
        ExtensionType.NON_TRANSFERABLE,
        ExtensionType.METADATA_POINTER,
        ExtensionType.TOKEN_METADATA,
    )
    assert mint.token_metadata == config.token_metadata(green.pubkey())
    assert mint.token_metadata.get("unit") == "kWh"
    assert mint.mint_authority == world.minter.pubkey() and mint.freeze_authority is None
    assert (
        len(world.svm.get_account(green.pubkey()).data)
        == (evch.green_credit_mint_space(config, green.pubkey())[1])
    )

    holder, other = Keypair(), Keypair()
    world.svm.airdrop(holder.pubkey(), 10**9)
    accounts = []
    for owner in (holder, other):
        create = t22.create_associated_token_account_idempotent(
            world.payer.pubkey(), owner.pubkey(), green.pubkey()
        )
        ok(world.send([create]))
        accounts.append(t22.associated_token_address(owner.pubkey(), green.pubkey()))
    h, o = accounts
    account = world.account(h)
    assert account.state is AccountState.INITIALIZED and account.non_transferable
    assert account.immutable_owner and account.withheld_amount is None

    renewable = evch.raw_from_energy_wh(12_345)  # 12.345 kWh charged from renewables
    issue = t22.mint_to_checked(green.pubkey(), h, world.minter.pubkey(), renewable, 6)
    ok(world.send([issue], world.minter))
    assert world.account(h).amount == renewable

    move = t22.transfer_checked(h, green.pubkey(), o, holder.pubkey(), 1, 6)
    assert token_error(world.send([move], holder)) == TokenError.NON_TRANSFERABLE
    retire = t22.burn_checked(h, green.pubkey(), holder.pubkey(), 1_000, 6)
    ok(world.send([retire], holder))
    assert world.account(h).amount == renewable - 1_000
    assert world.account(o).amount == 0
