"""Token-2022 builders, sizes and parsers (programs/spl/token2022.py), run on LiteSVM.

``svm`` (a fresh LiteSVM per test) and ``payer`` come from tests/programs/conftest.py.

Every encoding is checked by a transaction that uses it and an assertion on its effect; the base
instructions that solana-py's ``spl.token`` also encodes are compared with it byte for byte.
The EVCH-specific extensions (transfer fee, default state, permanent delegate, non-transferable)
are exercised in test_evch_mint.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import spl.token.instructions as spl
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import Transaction
from spl.token.instructions import models as spl_params

from programs.spl import token2022 as t22
from programs.spl.results import InstructionFailure, compute_units, failure, logs, succeeded
from programs.spl.token2022 import (
    TOKEN_2022_PROGRAM_ID,
    AccountState,
    AuthorityType,
    ExtensionType,
    MetadataField,
    TokenError,
    TokenMetadata,
    TokenMetadataError,
)

DECIMALS = 6


def send(svm: LiteSVM, payer: Keypair, instructions: Sequence[Instruction], *signers: Keypair):
    svm.expire_blockhash()  # identical transactions in one test stay distinct
    keys = {k.pubkey(): k for k in (payer, *signers)}
    transaction = Transaction.new_signed_with_payer(
        list(instructions), payer.pubkey(), list(keys.values()), svm.latest_blockhash()
    )
    return svm.send_transaction(transaction)


def ok(result):
    assert succeeded(result), f"{failure(result)}\n" + "\n".join(logs(result))
    return result


def instruction_error(result) -> InstructionFailure:
    fault = failure(result)
    assert isinstance(fault, InstructionFailure), fault
    return fault


def token_error(result) -> int | None:
    return instruction_error(result).custom


def create(payer: Keypair, account: Keypair, space: int, lamports: int | None = None):
    return create_account(
        CreateAccountParams(
            from_pubkey=payer.pubkey(),
            to_pubkey=account.pubkey(),
            lamports=t22.rent_exempt_lamports(space) if lamports is None else lamports,
            space=space,
            owner=TOKEN_2022_PROGRAM_ID,
        )
    )


def mint_state(svm: LiteSVM, mint: Pubkey) -> t22.Mint:
    return t22.parse_mint(bytes(svm.get_account(mint).data))


def account_state(svm: LiteSVM, account: Pubkey) -> t22.TokenAccount:
    return t22.parse_token_account(bytes(svm.get_account(account).data))


def new_plain_mint(svm: LiteSVM, payer: Keypair, authority: Pubkey, freeze: Pubkey | None):
    mint = Keypair()
    ok(
        send(
            svm,
            payer,
            [
                create(payer, mint, t22.mint_space()),
                t22.initialize_mint2(
                    mint.pubkey(),
                    decimals=DECIMALS,
                    mint_authority=authority,
                    freeze_authority=freeze,
                ),
            ],
            mint,
        )
    )
    return mint.pubkey()


def new_account(svm: LiteSVM, payer: Keypair, mint: Pubkey, owner: Pubkey, space: int):
    account = Keypair()
    result = send(
        svm,
        payer,
        [create(payer, account, space), t22.initialize_account3(account.pubkey(), mint, owner)],
        account,
    )
    return account.pubkey(), result


# ---------------------------------------------------------------- encodings


def test_base_encodings_match_solana_py():
    """Where solana-py encodes a Token-2022 instruction too, both agree byte for byte."""
    mint, account, other, owner, authority, signer = (Pubkey.new_unique() for _ in range(6))
    p = spl_params
    common = {"program_id": TOKEN_2022_PROGRAM_ID}
    pairs = [
        (
            t22.initialize_mint2(
                mint, decimals=6, mint_authority=authority, freeze_authority=owner
            ),
            spl.initialize_mint2(
                p.InitializeMint2Params(
                    **common,
                    decimals=6,
                    mint=mint,
                    mint_authority=authority,
                    freeze_authority=owner,
                )
            ),
        ),
        (
            t22.initialize_account3(account, mint, owner),
            spl.initialize_account3(
                p.InitializeAccount3Params(**common, account=account, mint=mint, owner=owner)
            ),
        ),
        (
            t22.mint_to(mint, account, authority, 42),
            spl.mint_to(
                p.MintToParams(
                    **common, mint=mint, dest=account, mint_authority=authority, amount=42
                )
            ),
        ),
        (
            t22.mint_to_checked(mint, account, authority, 42, 6, multisig_signers=[signer]),
            spl.mint_to_checked(
                p.MintToCheckedParams(
                    **common,
                    mint=mint,
                    dest=account,
                    mint_authority=authority,
                    amount=42,
                    decimals=6,
                    signers=[signer],
                )
            ),
        ),
        (
            t22.burn(account, mint, owner, 7),
            spl.burn(p.BurnParams(**common, account=account, mint=mint, owner=owner, amount=7)),
        ),
        (
            t22.burn_checked(account, mint, owner, 7, 6),
            spl.burn_checked(
                p.BurnCheckedParams(
                    **common, account=account, mint=mint, owner=owner, amount=7, decimals=6
                )
            ),
        ),
        (
            t22.transfer_checked(account, mint, other, owner, 2**64 - 1, 6),
            spl.transfer_checked(
                p.TransferCheckedParams(
                    **common,
                    source=account,
                    mint=mint,
                    dest=other,
                    owner=owner,
                    amount=2**64 - 1,
                    decimals=6,
                )
            ),
        ),
        (
            t22.freeze_account(account, mint, authority),
            spl.freeze_account(
                p.FreezeAccountParams(**common, account=account, mint=mint, authority=authority)
            ),
        ),
        (
            t22.thaw_account(account, mint, authority),
            spl.thaw_account(
                p.ThawAccountParams(**common, account=account, mint=mint, authority=authority)
            ),
        ),
        (
            t22.set_authority(mint, authority, AuthorityType.FREEZE_ACCOUNT, owner),
            spl.set_authority(
                p.SetAuthorityParams(
                    **common,
                    account=mint,
                    authority=spl.AuthorityType.FREEZE_ACCOUNT,
                    current_authority=authority,
                    new_authority=owner,
                )
            ),
        ),
        (
            t22.initialize_multisig2(account, [owner, other, signer], 2),
            spl.initialize_multisig2(
                p.InitializeMultisig2Params(
                    **common, multisig=account, m=2, signers=[owner, other, signer]
                )
            ),
        ),
        (
            t22.create_associated_token_account_idempotent(authority, owner, mint),
            spl.create_idempotent_associated_token_account(
                authority, owner, mint, TOKEN_2022_PROGRAM_ID
            ),
        ),
        (
            t22.initialize_transfer_fee_config(
                mint,
                config_authority=owner,
                withdraw_authority=None,
                fee_basis_points=75,
                maximum_fee=10**6,
            ),
            spl.initialize_transfer_fee_config(
                p.InitializeTransferFeeConfigParams(
                    **common,
                    mint=mint,
                    transfer_fee_config_authority=owner,
                    withdraw_withheld_authority=None,
                    transfer_fee_basis_points=75,
                    maximum_fee=10**6,
                )
            ),
        ),
        (
            t22.withdraw_withheld_tokens_from_accounts(mint, account, authority, [other, owner]),
            spl.withdraw_withheld_tokens_from_accounts(
                p.WithdrawWithheldTokensFromAccountsParams(
                    **common,
                    mint=mint,
                    dest=account,
                    authority=authority,
                    signers=[],
                    sources=[other, owner],
                )
            ),
        ),
        (
            t22.withdraw_withheld_tokens_from_mint(mint, account, authority),
            spl.withdraw_withheld_tokens_from_mint(
                p.WithdrawWithheldTokensFromMintParams(
                    **common, mint=mint, dest=account, authority=authority, signers=[]
                )
            ),
        ),
        (
            t22.harvest_withheld_tokens_to_mint(mint, [other]),
            spl.harvest_withheld_tokens_to_mint(
                p.HarvestWithheldTokensToMintParams(**common, mint=mint, sources=[other])
            ),
        ),
    ]
    for ours, theirs in pairs:
        assert ours == theirs, (ours, theirs)
    assert t22.associated_token_address(owner, mint) == spl.get_associated_token_address(
        owner, mint, TOKEN_2022_PROGRAM_ID
    )


def test_metadata_discriminators_are_the_published_ones():
    assert t22.TOKEN_METADATA_INITIALIZE == bytes([210, 225, 30, 162, 88, 184, 77, 141])
    assert t22.TOKEN_METADATA_UPDATE_FIELD == bytes([221, 233, 49, 45, 181, 202, 220, 200])
    update = t22.update_token_metadata_field(Pubkey.new_unique(), Pubkey.new_unique(), "unit", "")
    assert update.data[8:] == b"\x03" + b"\x04\x00\x00\x00unit" + b"\x00\x00\x00\x00"


def test_builders_refuse_values_that_do_not_fit():
    mint, key = Pubkey.new_unique(), Pubkey.new_unique()
    with pytest.raises(ValueError):
        t22.mint_to(mint, key, key, 2**64)
    with pytest.raises(ValueError):
        t22.mint_to(mint, key, key, -1)
    with pytest.raises(ValueError):
        t22.set_transfer_fee(mint, key, 10_001, 0)
    with pytest.raises(ValueError):
        t22.initialize_multisig2(mint, [key], 2)
    with pytest.raises(ValueError):
        t22.mint_space([ExtensionType.TOKEN_METADATA])


def test_transfer_fee_rounds_up_and_caps():
    assert t22.transfer_fee(0, 50, 10) == 0
    assert t22.transfer_fee(1, 50, 10) == 1  # ceil(0.005)
    assert t22.transfer_fee(200, 50, 10) == 1
    assert t22.transfer_fee(201, 50, 10) == 2
    assert t22.transfer_fee(10**9, 50, 10) == 10
    assert t22.transfer_fee(10**9, 0, 10) == 0


# ---------------------------------------------------------------- base token flow


def test_plain_mint_accounts_mint_transfer_burn(svm, payer):
    authority, alice, bob = Keypair(), Keypair(), Keypair()
    mint = new_plain_mint(svm, payer, authority.pubkey(), None)
    state = mint_state(svm, mint)
    assert (state.decimals, state.supply, state.is_initialized) == (DECIMALS, 0, True)
    assert state.mint_authority == authority.pubkey() and state.freeze_authority is None
    assert state.extensions == () and len(svm.get_account(mint).data) == t22.MINT_SIZE

    a, result = new_account(svm, payer, mint, alice.pubkey(), t22.account_space())
    ok(result)
    b, result = new_account(svm, payer, mint, bob.pubkey(), t22.ACCOUNT_SIZE)
    ok(result)
    ok(send(svm, payer, [t22.mint_to(mint, a, authority.pubkey(), 5_000)], authority))
    ok(send(svm, payer, [t22.mint_to_checked(mint, a, authority.pubkey(), 500, 6)], authority))
    wrong_decimals = send(
        svm, payer, [t22.mint_to_checked(mint, a, authority.pubkey(), 1, 9)], authority
    )
    assert token_error(wrong_decimals) == TokenError.MINT_DECIMALS_MISMATCH

    ok(send(svm, payer, [t22.transfer_checked(a, mint, b, alice.pubkey(), 1_500, 6)], alice))
    ok(send(svm, payer, [t22.burn(b, mint, bob.pubkey(), 200)], bob))
    ok(send(svm, payer, [t22.burn_checked(a, mint, alice.pubkey(), 300, 6)], alice))

    alice_account, bob_account = account_state(svm, a), account_state(svm, b)
    assert (alice_account.mint, alice_account.owner) == (mint, alice.pubkey())
    assert (alice_account.amount, bob_account.amount) == (3_700, 1_300)
    assert alice_account.state is AccountState.INITIALIZED and alice_account.extensions == ()
    assert alice_account.delegate is None and alice_account.close_authority is None
    assert alice_account.is_native is None and alice_account.withheld_amount is None
    assert mint_state(svm, mint).supply == 5_000
    with pytest.raises(ValueError):
        t22.parse_token_account(bytes(svm.get_account(mint).data))
    with pytest.raises(ValueError):
        t22.parse_mint(bytes(svm.get_account(a).data))


def test_freeze_thaw_and_authorities(svm, payer):
    authority, freezer, alice, stranger = Keypair(), Keypair(), Keypair(), Keypair()
    mint = new_plain_mint(svm, payer, authority.pubkey(), freezer.pubkey())
    a, result = new_account(svm, payer, mint, alice.pubkey(), t22.ACCOUNT_SIZE)
    ok(result)

    assert token_error(
        send(svm, payer, [t22.thaw_account(a, mint, freezer.pubkey())], freezer)
    ) == (
        TokenError.INVALID_STATE  # not frozen
    )
    refused = send(svm, payer, [t22.freeze_account(a, mint, stranger.pubkey())], stranger)
    assert token_error(refused) == TokenError.OWNER_MISMATCH
    ok(send(svm, payer, [t22.freeze_account(a, mint, freezer.pubkey())], freezer))
    assert account_state(svm, a).is_frozen
    refused = send(svm, payer, [t22.mint_to(mint, a, authority.pubkey(), 1)], authority)
    assert token_error(refused) == TokenError.ACCOUNT_FROZEN
    ok(send(svm, payer, [t22.thaw_account(a, mint, freezer.pubkey())], freezer))
    assert account_state(svm, a).state is AccountState.INITIALIZED

    refused = send(svm, payer, [t22.mint_to(mint, a, stranger.pubkey(), 1)], stranger)
    assert token_error(refused) == TokenError.OWNER_MISMATCH

    # SetAuthority with no new authority removes it (COption::None).
    ok(
        send(
            svm,
            payer,
            [t22.set_authority(mint, freezer.pubkey(), AuthorityType.FREEZE_ACCOUNT, None)],
            freezer,
        )
    )
    assert mint_state(svm, mint).freeze_authority is None
    refused = send(svm, payer, [t22.freeze_account(a, mint, freezer.pubkey())], freezer)
    assert token_error(refused) == TokenError.MINT_CANNOT_FREEZE


def test_multisig_mint_authority(svm, payer):
    authority = Keypair()
    members = [Keypair() for _ in range(3)]
    mint = new_plain_mint(svm, payer, authority.pubkey(), None)
    multisig = Keypair()
    ok(
        send(
            svm,
            payer,
            [
                create(payer, multisig, t22.MULTISIG_SIZE),
                t22.initialize_multisig2(multisig.pubkey(), [m.pubkey() for m in members], 2),
            ],
            multisig,
        )
    )
    ok(
        send(
            svm,
            payer,
            [
                t22.set_authority(
                    mint, authority.pubkey(), AuthorityType.MINT_TOKENS, multisig.pubkey()
                )
            ],
            authority,
        )
    )
    assert mint_state(svm, mint).mint_authority == multisig.pubkey()
    holder, result = new_account(svm, payer, mint, Pubkey.new_unique(), t22.ACCOUNT_SIZE)
    ok(result)

    one = t22.mint_to_checked(
        mint, holder, multisig.pubkey(), 10, 6, multisig_signers=[members[0].pubkey()]
    )
    assert instruction_error(send(svm, payer, [one], members[0])).error.endswith(
        "MissingRequiredSignature"
    )
    two = t22.mint_to_checked(
        mint, holder, multisig.pubkey(), 10, 6, multisig_signers=[m.pubkey() for m in members[1:]]
    )
    ok(send(svm, payer, [two], *members[1:]))
    assert account_state(svm, holder).amount == 10


# ---------------------------------------------------------------- sizes


def test_account_space_follows_the_mint_extensions(svm, payer):
    mint = Keypair()
    extensions = [ExtensionType.TRANSFER_FEE_CONFIG]
    ok(
        send(
            svm,
            payer,
            [
                create(payer, mint, t22.mint_space(extensions)),
                t22.initialize_transfer_fee_config(
                    mint.pubkey(),
                    config_authority=None,
                    withdraw_authority=None,
                    fee_basis_points=0,
                    maximum_fee=0,
                ),
                t22.initialize_mint2(
                    mint.pubkey(),
                    decimals=DECIMALS,
                    mint_authority=payer.pubkey(),
                    freeze_authority=None,
                ),
            ],
            mint,
        )
    )
    required = t22.required_account_extensions(extensions)
    assert required == (ExtensionType.TRANSFER_FEE_AMOUNT,)
    assert t22.account_space(required) == 165 + 1 + 4 + 8

    owner = Pubkey.new_unique()
    _, too_small = new_account(svm, payer, mint.pubkey(), owner, t22.ACCOUNT_SIZE)
    assert instruction_error(too_small).error.endswith("InvalidAccountData")
    account, result = new_account(svm, payer, mint.pubkey(), owner, t22.account_space(required))
    ok(result)
    state = account_state(svm, account)
    assert state.extensions == (ExtensionType.TRANSFER_FEE_AMOUNT,)
    assert state.withheld_amount == 0 and not state.immutable_owner

    # An ATA also carries ImmutableOwner.
    ok(
        send(
            svm,
            payer,
            [t22.create_associated_token_account_idempotent(payer.pubkey(), owner, mint.pubkey())],
        )
    )
    ata = t22.associated_token_address(owner, mint.pubkey())
    assert len(svm.get_account(ata).data) == t22.account_space(
        [ExtensionType.IMMUTABLE_OWNER, *required]
    )
    assert account_state(svm, ata).immutable_owner


def test_mint_must_be_allocated_exactly(svm, payer):
    mint = Keypair()
    over = send(
        svm,
        payer,
        [
            create(payer, mint, t22.mint_space([ExtensionType.NON_TRANSFERABLE]) + 1),
            t22.initialize_non_transferable_mint(mint.pubkey()),
            t22.initialize_mint2(
                mint.pubkey(), decimals=0, mint_authority=payer.pubkey(), freeze_authority=None
            ),
        ],
        mint,
    )
    assert instruction_error(over).index == 2
    assert instruction_error(over).error.endswith("InvalidAccountData")


def test_a_mint_the_size_of_a_multisig_gets_two_more_bytes(svm, payer):
    extensions = [
        ExtensionType.TRANSFER_FEE_CONFIG,
        ExtensionType.METADATA_POINTER,
        ExtensionType.DEFAULT_ACCOUNT_STATE,
        ExtensionType.NON_TRANSFERABLE,
    ]
    assert 166 + (4 + 108) + (4 + 64) + (4 + 1) + 4 == t22.MULTISIG_SIZE
    assert t22.mint_space(extensions) == t22.MULTISIG_SIZE + 2

    def build(space: int):
        mint = Keypair()
        return send(
            svm,
            payer,
            [
                create(payer, mint, space),
                t22.initialize_transfer_fee_config(
                    mint.pubkey(),
                    config_authority=None,
                    withdraw_authority=None,
                    fee_basis_points=1,
                    maximum_fee=1,
                ),
                t22.initialize_metadata_pointer(
                    mint.pubkey(), authority=payer.pubkey(), metadata_address=None
                ),
                t22.initialize_default_account_state(mint.pubkey(), AccountState.INITIALIZED),
                t22.initialize_non_transferable_mint(mint.pubkey()),
                t22.initialize_mint2(
                    mint.pubkey(),
                    decimals=0,
                    mint_authority=payer.pubkey(),
                    freeze_authority=None,
                ),
            ],
            mint,
        ), mint.pubkey()

    refused, _ = build(t22.MULTISIG_SIZE)  # read as a multisig: the first initialiser refuses
    assert instruction_error(refused).index == 1
    assert instruction_error(refused).error.endswith("InvalidAccountData")
    result, mint = build(t22.mint_space(extensions))
    ok(result)
    state = mint_state(svm, mint)
    assert state.extensions == tuple(extensions) and state.non_transferable
    assert state.metadata_pointer == t22.MetadataPointer(payer.pubkey(), None)
    assert state.default_account_state is AccountState.INITIALIZED


def _metadata_mint(svm, payer, metadata: TokenMetadata, mint: Keypair, funded_space: int):
    """A mint with MetadataPointer -> itself and TokenMetadata, funded for ``funded_space``."""
    authority = metadata.update_authority
    return send(
        svm,
        payer,
        [
            create(
                payer,
                mint,
                t22.mint_space([ExtensionType.METADATA_POINTER]),
                t22.rent_exempt_lamports(funded_space),
            ),
            t22.initialize_metadata_pointer(
                mint.pubkey(), authority=authority, metadata_address=mint.pubkey()
            ),
            t22.initialize_mint2(
                mint.pubkey(), decimals=0, mint_authority=payer.pubkey(), freeze_authority=None
            ),
            t22.initialize_token_metadata(
                mint.pubkey(),
                update_authority=authority,
                mint_authority=payer.pubkey(),
                name=metadata.name,
                symbol=metadata.symbol,
                uri=metadata.uri,
            ),
        ],
        mint,
    )


def test_metadata_entry_size_and_funding(svm, payer):
    """The realloc on Initialize lands on mint_space(..., metadata), multisig adjustment too."""
    assert t22.rent_exempt_lamports(500) == svm.minimum_balance_for_rent_exemption(500)
    updater = Keypair()
    mint = Keypair()
    # 166 + (4 + 64) + (4 + 64 + 3 * 4 + 4) = 318; a 37-byte name makes it exactly 355.
    metadata = TokenMetadata(mint.pubkey(), "N" * 37, "", "", updater.pubkey())
    final = t22.mint_space([ExtensionType.METADATA_POINTER], metadata)
    assert final == t22.MULTISIG_SIZE + 2

    short_of_rent = _metadata_mint(
        svm, payer, metadata, mint, t22.mint_space([ExtensionType.METADATA_POINTER])
    )
    assert "InsufficientFundsForRent" in str(failure(short_of_rent))

    ok(_metadata_mint(svm, payer, metadata, mint, final))
    assert len(svm.get_account(mint.pubkey()).data) == final
    state = mint_state(svm, mint.pubkey())
    assert state.token_metadata == metadata
    assert state.extensions == (ExtensionType.METADATA_POINTER, ExtensionType.TOKEN_METADATA)
    entry = dict(t22.tlv_entries(bytes(svm.get_account(mint.pubkey()).data)))
    assert entry[ExtensionType.TOKEN_METADATA] == metadata.pack()


def test_update_field_adds_and_changes_fields(svm, payer):
    updater, stranger, mint = Keypair(), Keypair(), Keypair()
    metadata = TokenMetadata(mint.pubkey(), "Token", "TOK", "https://x.example", updater.pubkey())
    ok(
        _metadata_mint(
            svm, payer, metadata, mint, t22.mint_space([ExtensionType.METADATA_POINTER], metadata)
        )
    )
    key = mint.pubkey()

    grown = TokenMetadata(
        key, "Token", "TOKEN", "https://x.example", updater.pubkey(), (("unit", "kWh"),)
    )
    needed = t22.rent_exempt_lamports(
        t22.mint_space([ExtensionType.METADATA_POINTER], grown)
    ) - svm.get_balance(key)
    updates = [
        t22.update_token_metadata_field(key, updater.pubkey(), "unit", "kWh"),
        t22.update_token_metadata_field(key, updater.pubkey(), MetadataField.SYMBOL, "TOKEN"),
    ]
    assert "InsufficientFundsForRent" in str(failure(send(svm, payer, updates, updater)))
    top_up = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=key, lamports=needed))
    ok(send(svm, payer, [top_up, *updates], updater))
    assert mint_state(svm, key).token_metadata == grown
    assert mint_state(svm, key).token_metadata.get("unit") == "kWh"

    same_length = [
        t22.update_token_metadata_field(key, updater.pubkey(), MetadataField.NAME, "Tekon")
    ]
    ok(send(svm, payer, same_length, updater))
    assert mint_state(svm, key).token_metadata.name == "Tekon"
    forged = [t22.update_token_metadata_field(key, stranger.pubkey(), MetadataField.URI, "x")]
    refused = send(svm, payer, forged, stranger)
    assert token_error(refused) == TokenMetadataError.INCORRECT_UPDATE_AUTHORITY
    assert mint_state(svm, key).token_metadata.uri == "https://x.example"


def test_compute_units_are_read_from_success_and_failure(svm, payer):
    mint = Keypair()
    result = ok(
        send(
            svm,
            payer,
            [
                create(payer, mint, t22.MINT_SIZE),
                t22.initialize_mint2(
                    mint.pubkey(), decimals=0, mint_authority=payer.pubkey(), freeze_authority=None
                ),
            ],
            mint,
        )
    )
    assert compute_units(result) == result.compute_units_consumed() > 0
    again = send(
        svm,
        payer,
        [
            t22.initialize_mint2(
                mint.pubkey(), decimals=0, mint_authority=payer.pubkey(), freeze_authority=None
            )
        ],
    )
    assert token_error(again) == TokenError.ALREADY_IN_USE
    assert compute_units(again) == again.meta().compute_units_consumed() > 0
