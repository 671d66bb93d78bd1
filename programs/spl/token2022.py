"""Token-2022 instructions, account sizes and state parsing.

Instruction data is what spl-token-2022 ``TokenInstruction::pack`` writes: one tag byte, then
little-endian fields. Extension families ("TransferFeeExtension", ...) add a second byte, the
sub-instruction. Two ways to write an optional key occur:

* ``COption<Pubkey>`` in instruction data: ``0x00``, or ``0x01`` followed by the 32 bytes;
* ``OptionalNonZeroPubkey`` (pod extension data and state): always 32 bytes, all zero = none.

The token-metadata instructions are not Token-2022's own enum but the spl-token-metadata-interface,
which Token-2022 implements: an 8-byte discriminator ``sha256("spl_token_metadata_interface:"
+ name)[:8]`` followed by borsh (``u32`` length-prefixed UTF-8 strings).

Authority-taking builders accept ``multisig_signers``: with none, ``authority`` signs; with some,
``authority`` is an SPL multisig account (not a signer) followed by the signing members.

State layout: a mint is 82 bytes, a token account 165. With extensions, the base is padded to
165 bytes, byte 165 is the account type (1 mint, 2 account) and TLV entries follow
(``u16`` type, ``u16`` length, value).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
ASSOCIATED_TOKEN_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")

MINT_SIZE = 82  # base Mint, no extensions
ACCOUNT_SIZE = 165  # base Account, no extensions
MULTISIG_SIZE = 355
MAX_FEE_BASIS_POINTS = 10_000
MAX_SIGNERS = 11
_U64_MAX = 2**64 - 1
# Extended accounts: base padded to ACCOUNT_SIZE, then one AccountType byte, then TLV entries.
_ACCOUNT_TYPE_OFFSET = ACCOUNT_SIZE
_TLV_START = ACCOUNT_SIZE + 1
_TLV_HEADER = 4  # u16 type + u16 length
_ACCOUNT_TYPE_MINT = 1
_ACCOUNT_TYPE_ACCOUNT = 2
_ZERO_KEY = bytes(32)
# Default cluster rent: 3,480 lamports per byte-year, exempt at 2 years, 128 bytes of overhead.
_RENT_LAMPORTS_PER_BYTE = 6_960
_ACCOUNT_STORAGE_OVERHEAD = 128


class ExtensionType(IntEnum):
    """spl-token-2022 ``ExtensionType`` (u16 in the TLV header)."""

    UNINITIALIZED = 0
    TRANSFER_FEE_CONFIG = 1
    TRANSFER_FEE_AMOUNT = 2
    MINT_CLOSE_AUTHORITY = 3
    CONFIDENTIAL_TRANSFER_MINT = 4
    CONFIDENTIAL_TRANSFER_ACCOUNT = 5
    DEFAULT_ACCOUNT_STATE = 6
    IMMUTABLE_OWNER = 7
    MEMO_TRANSFER = 8
    NON_TRANSFERABLE = 9
    INTEREST_BEARING_CONFIG = 10
    CPI_GUARD = 11
    PERMANENT_DELEGATE = 12
    NON_TRANSFERABLE_ACCOUNT = 13
    TRANSFER_HOOK = 14
    TRANSFER_HOOK_ACCOUNT = 15
    CONFIDENTIAL_TRANSFER_FEE_CONFIG = 16
    CONFIDENTIAL_TRANSFER_FEE_AMOUNT = 17
    METADATA_POINTER = 18
    TOKEN_METADATA = 19
    GROUP_POINTER = 20
    TOKEN_GROUP = 21
    GROUP_MEMBER_POINTER = 22
    TOKEN_GROUP_MEMBER = 23


# Value lengths of the fixed-size extensions this module can size accounts for.
_FIXED_LEN: dict[ExtensionType, int] = {
    ExtensionType.TRANSFER_FEE_CONFIG: 108,
    ExtensionType.TRANSFER_FEE_AMOUNT: 8,
    ExtensionType.MINT_CLOSE_AUTHORITY: 32,
    ExtensionType.DEFAULT_ACCOUNT_STATE: 1,
    ExtensionType.IMMUTABLE_OWNER: 0,
    ExtensionType.MEMO_TRANSFER: 1,
    ExtensionType.NON_TRANSFERABLE: 0,
    ExtensionType.INTEREST_BEARING_CONFIG: 52,
    ExtensionType.CPI_GUARD: 1,
    ExtensionType.PERMANENT_DELEGATE: 32,
    ExtensionType.NON_TRANSFERABLE_ACCOUNT: 0,
    ExtensionType.TRANSFER_HOOK: 64,
    ExtensionType.TRANSFER_HOOK_ACCOUNT: 1,
    ExtensionType.METADATA_POINTER: 64,
    ExtensionType.GROUP_POINTER: 64,
    ExtensionType.GROUP_MEMBER_POINTER: 64,
}
# Account extensions that InitializeAccount adds because the mint has a given extension.
_REQUIRED_ACCOUNT_EXTENSIONS: dict[ExtensionType, tuple[ExtensionType, ...]] = {
    ExtensionType.TRANSFER_FEE_CONFIG: (ExtensionType.TRANSFER_FEE_AMOUNT,),
    ExtensionType.NON_TRANSFERABLE: (
        ExtensionType.NON_TRANSFERABLE_ACCOUNT,
        ExtensionType.IMMUTABLE_OWNER,
    ),
    ExtensionType.TRANSFER_HOOK: (ExtensionType.TRANSFER_HOOK_ACCOUNT,),
}


class AccountState(IntEnum):
    UNINITIALIZED = 0
    INITIALIZED = 1
    FROZEN = 2


class AuthorityType(IntEnum):
    """spl-token-2022 ``AuthorityType`` (the u8 of SetAuthority)."""

    MINT_TOKENS = 0
    FREEZE_ACCOUNT = 1
    ACCOUNT_OWNER = 2
    CLOSE_ACCOUNT = 3
    TRANSFER_FEE_CONFIG = 4
    WITHHELD_WITHDRAW = 5
    CLOSE_MINT = 6
    INTEREST_RATE = 7
    PERMANENT_DELEGATE = 8
    CONFIDENTIAL_TRANSFER_MINT = 9
    TRANSFER_HOOK_PROGRAM_ID = 10
    CONFIDENTIAL_TRANSFER_FEE_CONFIG = 11
    METADATA_POINTER = 12
    GROUP_POINTER = 13
    GROUP_MEMBER_POINTER = 14


class TokenError(IntEnum):
    """spl-token-2022 ``TokenError``: the program's ``Custom(n)`` error codes (0-38)."""

    NOT_RENT_EXEMPT = 0
    INSUFFICIENT_FUNDS = 1
    INVALID_MINT = 2
    MINT_MISMATCH = 3
    OWNER_MISMATCH = 4
    FIXED_SUPPLY = 5
    ALREADY_IN_USE = 6
    INVALID_NUMBER_OF_PROVIDED_SIGNERS = 7
    INVALID_NUMBER_OF_REQUIRED_SIGNERS = 8
    UNINITIALIZED_STATE = 9
    NATIVE_NOT_SUPPORTED = 10
    NON_NATIVE_HAS_BALANCE = 11
    INVALID_INSTRUCTION = 12
    INVALID_STATE = 13
    OVERFLOW = 14
    AUTHORITY_TYPE_NOT_SUPPORTED = 15
    MINT_CANNOT_FREEZE = 16
    ACCOUNT_FROZEN = 17
    MINT_DECIMALS_MISMATCH = 18
    NON_NATIVE_NOT_SUPPORTED = 19
    EXTENSION_TYPE_MISMATCH = 20
    EXTENSION_BASE_MISMATCH = 21
    EXTENSION_ALREADY_INITIALIZED = 22
    MINT_HAS_SUPPLY = 28
    NO_AUTHORITY_EXISTS = 29
    TRANSFER_FEE_EXCEEDS_MAXIMUM = 30
    MINT_REQUIRED_FOR_TRANSFER = 31
    FEE_MISMATCH = 32
    FEE_PARAMETERS_MISMATCH = 33
    IMMUTABLE_OWNER = 34
    ACCOUNT_HAS_WITHHELD_TRANSFER_FEES = 35
    NO_MEMO = 36
    NON_TRANSFERABLE = 37
    NON_TRANSFERABLE_NEEDS_IMMUTABLE_OWNERSHIP = 38


class TokenMetadataError(IntEnum):
    """spl-token-metadata-interface errors (``Custom(n)`` from the metadata instructions)."""

    INCORRECT_ACCOUNT = 901_952_957
    MINT_HAS_NO_MINT_AUTHORITY = 901_952_958
    INCORRECT_MINT_AUTHORITY = 901_952_959
    INCORRECT_UPDATE_AUTHORITY = 901_952_960
    IMMUTABLE_METADATA = 901_952_961
    KEY_NOT_FOUND = 901_952_962


class MetadataField(IntEnum):
    """The fixed fields of spl-token-metadata-interface ``Field`` (borsh enum index).

    Any other field is an additional key: pass it to :func:`update_token_metadata_field` as a
    plain ``str`` (``Field::Key(String)``, index 3).
    """

    NAME = 0
    SYMBOL = 1
    URI = 2


_METADATA_KEY_FIELD = 3


class _Tag(IntEnum):
    """Top-level ``TokenInstruction`` tags used here."""

    SET_AUTHORITY = 6
    MINT_TO = 7
    BURN = 8
    FREEZE_ACCOUNT = 10
    THAW_ACCOUNT = 11
    TRANSFER_CHECKED = 12
    MINT_TO_CHECKED = 14
    BURN_CHECKED = 15
    INITIALIZE_ACCOUNT3 = 18
    INITIALIZE_MULTISIG2 = 19
    INITIALIZE_MINT2 = 20
    TRANSFER_FEE_EXTENSION = 26
    DEFAULT_ACCOUNT_STATE_EXTENSION = 28
    INITIALIZE_NON_TRANSFERABLE_MINT = 32
    INITIALIZE_PERMANENT_DELEGATE = 35
    METADATA_POINTER_EXTENSION = 39


class _TransferFeeOp(IntEnum):
    INITIALIZE_CONFIG = 0
    TRANSFER_CHECKED_WITH_FEE = 1
    WITHDRAW_FROM_MINT = 2
    WITHDRAW_FROM_ACCOUNTS = 3
    HARVEST_TO_MINT = 4
    SET_TRANSFER_FEE = 5


def _metadata_discriminator(name: str) -> bytes:
    return hashlib.sha256(f"spl_token_metadata_interface:{name}".encode()).digest()[:8]


TOKEN_METADATA_INITIALIZE = _metadata_discriminator("initialize_account")
TOKEN_METADATA_UPDATE_FIELD = _metadata_discriminator("updating_field")


# ---------------------------------------------------------------- encoding helpers


def _u64(value: int, what: str) -> int:
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"{what} must fit in a u64, got {value}")
    return value


def _u8(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} must fit in a u8, got {value}")
    return value


def _basis_points(value: int) -> int:
    if not 0 <= value <= MAX_FEE_BASIS_POINTS:
        raise ValueError(f"fee basis points must be 0..{MAX_FEE_BASIS_POINTS}, got {value}")
    return value


def _coption_key(key: Pubkey | None) -> bytes:
    return b"\x00" if key is None else b"\x01" + bytes(key)


def _nonzero_key(key: Pubkey | None) -> bytes:
    return _ZERO_KEY if key is None else bytes(key)


def _borsh_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def _writable(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, is_signer=False, is_writable=True)


def _readonly(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, is_signer=False, is_writable=False)


def _authority(authority: Pubkey, multisig_signers: Sequence[Pubkey]) -> list[AccountMeta]:
    if len(multisig_signers) > MAX_SIGNERS:
        raise ValueError(f"at most {MAX_SIGNERS} multisig signers")
    if not multisig_signers:
        return [AccountMeta(authority, is_signer=True, is_writable=False)]
    return [_readonly(authority)] + [
        AccountMeta(signer, is_signer=True, is_writable=False) for signer in multisig_signers
    ]


def _token_ix(data: bytes, accounts: list[AccountMeta]) -> Instruction:
    return Instruction(TOKEN_2022_PROGRAM_ID, data, accounts)


# ---------------------------------------------------------------- base instructions


def initialize_mint2(
    mint: Pubkey, *, decimals: int, mint_authority: Pubkey, freeze_authority: Pubkey | None
) -> Instruction:
    """InitializeMint2 (20): u8 decimals, Pubkey mint_authority, COption<Pubkey> freeze_authority.

    Accounts: mint (w). Every mint extension must be initialised before it, and the account
    must be exactly :func:`mint_space` of those extensions long.
    """
    data = (
        bytes([_Tag.INITIALIZE_MINT2, _u8(decimals, "decimals")])
        + bytes(mint_authority)
        + _coption_key(freeze_authority)
    )
    return _token_ix(data, [_writable(mint)])


def initialize_account3(account: Pubkey, mint: Pubkey, owner: Pubkey) -> Instruction:
    """InitializeAccount3 (18): Pubkey owner. Accounts: account (w), mint.

    The account needs :func:`account_space` of :func:`required_account_extensions` of the mint.
    """
    return _token_ix(
        bytes([_Tag.INITIALIZE_ACCOUNT3]) + bytes(owner),
        [
            _writable(account),
            _readonly(mint),
        ],
    )


def initialize_multisig2(multisig: Pubkey, signers: Sequence[Pubkey], m: int) -> Instruction:
    """InitializeMultisig2 (19): u8 m. Accounts: multisig (w, 355 bytes), then the N members."""
    if not 1 <= m <= len(signers) <= MAX_SIGNERS:
        raise ValueError(f"need 1 <= m <= n <= {MAX_SIGNERS}, got m={m}, n={len(signers)}")
    return _token_ix(
        bytes([_Tag.INITIALIZE_MULTISIG2, m]),
        [
            _writable(multisig),
            *(_readonly(signer) for signer in signers),
        ],
    )


def associated_token_address(owner: Pubkey, mint: Pubkey) -> Pubkey:
    """The owner's associated Token-2022 account for ``mint`` (seeds: owner, program, mint)."""
    seeds = [bytes(owner), bytes(TOKEN_2022_PROGRAM_ID), bytes(mint)]
    return Pubkey.find_program_address(seeds, ASSOCIATED_TOKEN_PROGRAM_ID)[0]


def create_associated_token_account_idempotent(
    payer: Pubkey, owner: Pubkey, mint: Pubkey
) -> Instruction:
    """ATA program CreateIdempotent (data ``0x01``); a no-op when the account already exists.

    Accounts: payer (s, w), ATA (w), owner, mint, System program, Token-2022 program. The ATA
    gets ImmutableOwner plus the extensions the mint requires, and the mint's default state.
    """
    return Instruction(
        ASSOCIATED_TOKEN_PROGRAM_ID,
        b"\x01",
        [
            AccountMeta(payer, is_signer=True, is_writable=True),
            _writable(associated_token_address(owner, mint)),
            _readonly(owner),
            _readonly(mint),
            _readonly(SYSTEM_PROGRAM_ID),
            _readonly(TOKEN_2022_PROGRAM_ID),
        ],
    )


def mint_to(
    mint: Pubkey,
    destination: Pubkey,
    authority: Pubkey,
    amount: int,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """MintTo (7): u64 amount. Accounts: mint (w), destination (w), mint authority (s)."""
    data = struct.pack("<BQ", _Tag.MINT_TO, _u64(amount, "amount"))
    return _token_ix(
        data, [_writable(mint), _writable(destination), *_authority(authority, multisig_signers)]
    )


def mint_to_checked(
    mint: Pubkey,
    destination: Pubkey,
    authority: Pubkey,
    amount: int,
    decimals: int,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """MintToChecked (14): u64 amount, u8 decimals. Accounts as MintTo."""
    data = struct.pack(
        "<BQB", _Tag.MINT_TO_CHECKED, _u64(amount, "amount"), _u8(decimals, "decimals")
    )
    return _token_ix(
        data, [_writable(mint), _writable(destination), *_authority(authority, multisig_signers)]
    )


def burn(
    account: Pubkey,
    mint: Pubkey,
    authority: Pubkey,
    amount: int,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """Burn (8): u64 amount. Accounts: account (w), mint (w), owner/delegate (s)."""
    data = struct.pack("<BQ", _Tag.BURN, _u64(amount, "amount"))
    return _token_ix(
        data, [_writable(account), _writable(mint), *_authority(authority, multisig_signers)]
    )


def burn_checked(
    account: Pubkey,
    mint: Pubkey,
    authority: Pubkey,
    amount: int,
    decimals: int,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """BurnChecked (15): u64 amount, u8 decimals. Accounts as Burn (the permanent delegate may
    sign for any holder)."""
    data = struct.pack("<BQB", _Tag.BURN_CHECKED, _u64(amount, "amount"), _u8(decimals, "decimals"))
    return _token_ix(
        data, [_writable(account), _writable(mint), *_authority(authority, multisig_signers)]
    )


def transfer_checked(
    source: Pubkey,
    mint: Pubkey,
    destination: Pubkey,
    authority: Pubkey,
    amount: int,
    decimals: int,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """TransferChecked (12): u64 amount, u8 decimals.

    Accounts: source (w), mint, destination (w), owner/delegate (s). On a transfer-fee mint the
    fee is withheld on the destination without the sender stating it.
    """
    data = struct.pack(
        "<BQB", _Tag.TRANSFER_CHECKED, _u64(amount, "amount"), _u8(decimals, "decimals")
    )
    return _token_ix(
        data,
        [
            _writable(source),
            _readonly(mint),
            _writable(destination),
            *_authority(authority, multisig_signers),
        ],
    )


def freeze_account(
    account: Pubkey,
    mint: Pubkey,
    freeze_authority: Pubkey,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """FreezeAccount (10), no data. Accounts: account (w), mint, freeze authority (s)."""
    return _token_ix(
        bytes([_Tag.FREEZE_ACCOUNT]),
        [_writable(account), _readonly(mint), *_authority(freeze_authority, multisig_signers)],
    )


def thaw_account(
    account: Pubkey,
    mint: Pubkey,
    freeze_authority: Pubkey,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """ThawAccount (11), no data. Accounts as FreezeAccount; fails on an account not frozen."""
    return _token_ix(
        bytes([_Tag.THAW_ACCOUNT]),
        [_writable(account), _readonly(mint), *_authority(freeze_authority, multisig_signers)],
    )


def set_authority(
    target: Pubkey,
    current_authority: Pubkey,
    authority_type: AuthorityType,
    new_authority: Pubkey | None,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """SetAuthority (6): u8 AuthorityType, COption<Pubkey> new authority (none = remove it).

    Accounts: mint or token account (w), current authority (s).
    """
    data = bytes([_Tag.SET_AUTHORITY, AuthorityType(authority_type)]) + _coption_key(new_authority)
    return _token_ix(data, [_writable(target), *_authority(current_authority, multisig_signers)])


# ---------------------------------------------------------------- TransferFee extension (26)


def initialize_transfer_fee_config(
    mint: Pubkey,
    *,
    config_authority: Pubkey | None,
    withdraw_authority: Pubkey | None,
    fee_basis_points: int,
    maximum_fee: int,
) -> Instruction:
    """26/0: COption<Pubkey> config authority, COption<Pubkey> withdraw authority, u16 basis
    points, u64 maximum fee. Accounts: mint (w). Before InitializeMint2."""
    data = (
        bytes([_Tag.TRANSFER_FEE_EXTENSION, _TransferFeeOp.INITIALIZE_CONFIG])
        + _coption_key(config_authority)
        + _coption_key(withdraw_authority)
        + struct.pack("<HQ", _basis_points(fee_basis_points), _u64(maximum_fee, "maximum fee"))
    )
    return _token_ix(data, [_writable(mint)])


def transfer_checked_with_fee(
    source: Pubkey,
    mint: Pubkey,
    destination: Pubkey,
    authority: Pubkey,
    amount: int,
    decimals: int,
    fee: int,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """26/1: u64 amount, u8 decimals, u64 fee. Fails with FeeMismatch unless ``fee`` is exactly
    the fee the mint charges now (see :func:`transfer_fee`). Accounts as TransferChecked."""
    data = bytes([_Tag.TRANSFER_FEE_EXTENSION, _TransferFeeOp.TRANSFER_CHECKED_WITH_FEE])
    data += struct.pack("<QBQ", _u64(amount, "amount"), _u8(decimals, "decimals"), _u64(fee, "fee"))
    return _token_ix(
        data,
        [
            _writable(source),
            _readonly(mint),
            _writable(destination),
            *_authority(authority, multisig_signers),
        ],
    )


def withdraw_withheld_tokens_from_mint(
    mint: Pubkey,
    destination: Pubkey,
    withdraw_authority: Pubkey,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """26/2, no data. Accounts: mint (w), destination (w), withdraw authority (s)."""
    data = bytes([_Tag.TRANSFER_FEE_EXTENSION, _TransferFeeOp.WITHDRAW_FROM_MINT])
    return _token_ix(
        data,
        [
            _writable(mint),
            _writable(destination),
            *_authority(withdraw_authority, multisig_signers),
        ],
    )


def withdraw_withheld_tokens_from_accounts(
    mint: Pubkey,
    destination: Pubkey,
    withdraw_authority: Pubkey,
    sources: Sequence[Pubkey],
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """26/3: u8 number of sources. Accounts: mint, destination (w), withdraw authority (s)
    [+ multisig members], then the sources (w)."""
    data = bytes(
        [
            _Tag.TRANSFER_FEE_EXTENSION,
            _TransferFeeOp.WITHDRAW_FROM_ACCOUNTS,
            _u8(len(sources), "number of source accounts"),
        ]
    )
    return _token_ix(
        data,
        [
            _readonly(mint),
            _writable(destination),
            *_authority(withdraw_authority, multisig_signers),
            *(_writable(source) for source in sources),
        ],
    )


def harvest_withheld_tokens_to_mint(mint: Pubkey, sources: Sequence[Pubkey]) -> Instruction:
    """26/4, no data, permissionless (frozen sources too). Accounts: mint (w), sources (w)."""
    data = bytes([_Tag.TRANSFER_FEE_EXTENSION, _TransferFeeOp.HARVEST_TO_MINT])
    return _token_ix(data, [_writable(mint), *(_writable(source) for source in sources)])


def set_transfer_fee(
    mint: Pubkey,
    config_authority: Pubkey,
    fee_basis_points: int,
    maximum_fee: int,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """26/5: u16 basis points, u64 maximum fee. Accounts: mint (w), config authority (s).

    The new fee applies from two epochs after the current one; until then the previous applies.
    """
    data = bytes([_Tag.TRANSFER_FEE_EXTENSION, _TransferFeeOp.SET_TRANSFER_FEE])
    data += struct.pack("<HQ", _basis_points(fee_basis_points), _u64(maximum_fee, "maximum fee"))
    return _token_ix(data, [_writable(mint), *_authority(config_authority, multisig_signers)])


def transfer_fee(amount: int, fee_basis_points: int, maximum_fee: int) -> int:
    """The fee Token-2022 withholds on ``amount``: ceil(amount * bps / 10,000), capped."""
    if amount == 0 or fee_basis_points == 0:
        return 0
    fee = -(-amount * fee_basis_points // MAX_FEE_BASIS_POINTS)
    return min(fee, maximum_fee)


# ---------------------------------------------------------------- other mint extensions


def initialize_default_account_state(mint: Pubkey, state: AccountState) -> Instruction:
    """28/0: u8 AccountState. Accounts: mint (w). Before InitializeMint2; Frozen needs a freeze
    authority on the mint."""
    return _token_ix(
        bytes([_Tag.DEFAULT_ACCOUNT_STATE_EXTENSION, 0, AccountState(state)]), [_writable(mint)]
    )


def update_default_account_state(
    mint: Pubkey,
    freeze_authority: Pubkey,
    state: AccountState,
    *,
    multisig_signers: Sequence[Pubkey] = (),
) -> Instruction:
    """28/1: u8 AccountState. Accounts: mint (w), freeze authority (s). Affects new accounts."""
    data = bytes([_Tag.DEFAULT_ACCOUNT_STATE_EXTENSION, 1, AccountState(state)])
    return _token_ix(data, [_writable(mint), *_authority(freeze_authority, multisig_signers)])


def initialize_permanent_delegate(mint: Pubkey, delegate: Pubkey) -> Instruction:
    """35: Pubkey delegate. Accounts: mint (w). Before InitializeMint2. The delegate may transfer
    and burn from every account of the mint without the holder's signature."""
    return _token_ix(
        bytes([_Tag.INITIALIZE_PERMANENT_DELEGATE]) + bytes(delegate), [_writable(mint)]
    )


def initialize_non_transferable_mint(mint: Pubkey) -> Instruction:
    """32, no data. Accounts: mint (w). Before InitializeMint2. Holders can burn, not transfer."""
    return _token_ix(bytes([_Tag.INITIALIZE_NON_TRANSFERABLE_MINT]), [_writable(mint)])


def initialize_metadata_pointer(
    mint: Pubkey, *, authority: Pubkey | None, metadata_address: Pubkey | None
) -> Instruction:
    """39/0: OptionalNonZeroPubkey authority, OptionalNonZeroPubkey metadata address (32 bytes
    each). Accounts: mint (w). Before InitializeMint2; point it at the mint itself to keep the
    metadata in the mint (TokenMetadata extension)."""
    data = (
        bytes([_Tag.METADATA_POINTER_EXTENSION, 0])
        + _nonzero_key(authority)
        + _nonzero_key(metadata_address)
    )
    return _token_ix(data, [_writable(mint)])


# ---------------------------------------------------------------- token metadata interface


def initialize_token_metadata(
    mint: Pubkey,
    *,
    update_authority: Pubkey,
    mint_authority: Pubkey,
    name: str,
    symbol: str,
    uri: str,
    metadata: Pubkey | None = None,
) -> Instruction:
    """Initialize: discriminator ``initialize_account``, then borsh name, symbol, uri.

    Accounts: metadata (w; the mint itself by default), update authority, mint, mint authority
    (s). After InitializeMint2. Token-2022 reallocates the mint to hold the TokenMetadata entry
    but adds no lamports: fund the mint for :func:`mint_space` with the metadata beforehand.
    """
    data = TOKEN_METADATA_INITIALIZE + b"".join(map(_borsh_string, (name, symbol, uri)))
    return Instruction(
        TOKEN_2022_PROGRAM_ID,
        data,
        [
            _writable(mint if metadata is None else metadata),
            _readonly(update_authority),
            _readonly(mint),
            AccountMeta(mint_authority, is_signer=True, is_writable=False),
        ],
    )


def update_token_metadata_field(
    metadata: Pubkey, update_authority: Pubkey, field: MetadataField | str, value: str
) -> Instruction:
    """UpdateField: discriminator ``updating_field``, borsh ``Field``, borsh string value.

    ``Field`` is a borsh enum: one byte 0 Name, 1 Symbol, 2 Uri, or 3 followed by the key string
    for an additional field (a ``str`` here, e.g. ``"unit"``; added if absent). Accounts:
    metadata (w), update authority (s). A longer value grows the account: top it up for rent
    first (a System transfer in the same transaction).
    """
    if isinstance(field, MetadataField):
        encoded_field = bytes([field])
    else:
        encoded_field = bytes([_METADATA_KEY_FIELD]) + _borsh_string(field)
    data = TOKEN_METADATA_UPDATE_FIELD + encoded_field + _borsh_string(value)
    return Instruction(
        TOKEN_2022_PROGRAM_ID,
        data,
        [
            _writable(metadata),
            AccountMeta(update_authority, is_signer=True, is_writable=False),
        ],
    )


# ---------------------------------------------------------------- state


@dataclass(frozen=True)
class TransferFee:
    """One fee schedule entry: applies from ``epoch`` on."""

    epoch: int
    maximum_fee: int
    basis_points: int

    def fee(self, amount: int) -> int:
        return transfer_fee(amount, self.basis_points, self.maximum_fee)


@dataclass(frozen=True)
class TransferFeeConfig:
    """The mint's TransferFeeConfig (108 bytes: two keys, u64 withheld, older and newer fee)."""

    config_authority: Pubkey | None
    withdraw_authority: Pubkey | None
    withheld_amount: int  # harvested to the mint, not yet withdrawn
    older: TransferFee
    newer: TransferFee

    def fee_in_epoch(self, epoch: int) -> TransferFee:
        return self.newer if epoch >= self.newer.epoch else self.older

    @classmethod
    def unpack(cls, value: bytes) -> TransferFeeConfig:
        withheld, *fees = struct.unpack_from("<QQQHQQH", value, 64)
        return cls(
            _optional_key(value[0:32]),
            _optional_key(value[32:64]),
            withheld,
            TransferFee(*fees[0:3]),
            TransferFee(*fees[3:6]),
        )


@dataclass(frozen=True)
class MetadataPointer:
    authority: Pubkey | None
    metadata_address: Pubkey | None


@dataclass(frozen=True)
class TokenMetadata:
    """spl-token-metadata-interface ``TokenMetadata``, as stored in the TokenMetadata entry:
    update authority (OptionalNonZeroPubkey), mint, borsh name/symbol/uri, then
    ``Vec<(String, String)>`` of additional fields."""

    mint: Pubkey
    name: str
    symbol: str
    uri: str
    update_authority: Pubkey | None = None
    additional: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        """An additional field's value (e.g. ``"unit"``), or None."""
        return dict(self.additional).get(key)

    def pack(self) -> bytes:
        strings = b"".join(map(_borsh_string, (self.name, self.symbol, self.uri)))
        pairs = b"".join(_borsh_string(k) + _borsh_string(v) for k, v in self.additional)
        return (
            _nonzero_key(self.update_authority)
            + bytes(self.mint)
            + strings
            + struct.pack("<I", len(self.additional))
            + pairs
        )

    @classmethod
    def unpack(cls, value: bytes) -> TokenMetadata:
        reader = _BorshReader(value, 64)
        name, symbol, uri = reader.string(), reader.string(), reader.string()
        additional = tuple((reader.string(), reader.string()) for _ in range(reader.u32()))
        return cls(
            Pubkey.from_bytes(value[32:64]),
            name,
            symbol,
            uri,
            _optional_key(value[0:32]),
            additional,
        )


@dataclass(frozen=True)
class Mint:
    """A Token-2022 mint with the extensions this module understands decoded."""

    mint_authority: Pubkey | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: Pubkey | None
    extensions: tuple[ExtensionType | int, ...] = ()  # in TLV order
    transfer_fee_config: TransferFeeConfig | None = None
    default_account_state: AccountState | None = None
    permanent_delegate: Pubkey | None = None
    metadata_pointer: MetadataPointer | None = None
    token_metadata: TokenMetadata | None = None

    @property
    def non_transferable(self) -> bool:
        return ExtensionType.NON_TRANSFERABLE in self.extensions


@dataclass(frozen=True)
class TokenAccount:
    """A Token-2022 token account with the extensions this module understands decoded."""

    mint: Pubkey
    owner: Pubkey
    amount: int
    delegate: Pubkey | None
    state: AccountState
    is_native: int | None  # rent-exempt reserve of a wrapped-SOL account
    delegated_amount: int
    close_authority: Pubkey | None
    extensions: tuple[ExtensionType | int, ...] = ()
    withheld_amount: int | None = None  # TransferFeeAmount: fees withheld on this account

    @property
    def is_frozen(self) -> bool:
        return self.state is AccountState.FROZEN

    @property
    def immutable_owner(self) -> bool:
        return ExtensionType.IMMUTABLE_OWNER in self.extensions

    @property
    def non_transferable(self) -> bool:
        return ExtensionType.NON_TRANSFERABLE_ACCOUNT in self.extensions


class _BorshReader:
    def __init__(self, data: bytes, offset: int) -> None:
        self.data, self.offset = data, offset

    def u32(self) -> int:
        (value,) = struct.unpack_from("<I", self.data, self.offset)
        self.offset += 4
        return value

    def string(self) -> str:
        length = self.u32()
        raw = self.data[self.offset : self.offset + length]
        if len(raw) != length:
            raise ValueError("truncated borsh string")
        self.offset += length
        return raw.decode()


def _optional_key(raw: bytes) -> Pubkey | None:
    return None if raw == _ZERO_KEY else Pubkey.from_bytes(raw)


def _coption_key_at(data: bytes, offset: int) -> Pubkey | None:
    (tag,) = struct.unpack_from("<I", data, offset)
    return Pubkey.from_bytes(data[offset + 4 : offset + 36]) if tag else None


def _extension_type(value: int) -> ExtensionType | int:
    try:
        return ExtensionType(value)
    except ValueError:
        return value


def tlv_entries(data: bytes) -> list[tuple[ExtensionType | int, bytes]]:
    """The extension entries of a mint or token account, in order (empty for base-size data)."""
    entries: list[tuple[ExtensionType | int, bytes]] = []
    offset = _TLV_START
    while offset + _TLV_HEADER <= len(data):
        kind, length = struct.unpack_from("<HH", data, offset)
        if kind == ExtensionType.UNINITIALIZED:
            break
        value = data[offset + _TLV_HEADER : offset + _TLV_HEADER + length]
        if len(value) != length:
            raise ValueError(f"truncated extension {kind} at offset {offset}")
        entries.append((_extension_type(kind), value))
        offset += _TLV_HEADER + length
    return entries


def _check_account_type(data: bytes, expected: int, what: str) -> None:
    if len(data) > ACCOUNT_SIZE and data[_ACCOUNT_TYPE_OFFSET] != expected:
        raise ValueError(f"not a {what}: account type byte is {data[_ACCOUNT_TYPE_OFFSET]}")


def parse_mint(data: bytes) -> Mint:
    """Decode mint account data: base fields and the TLV extensions."""
    data = bytes(data)
    if len(data) < MINT_SIZE or MINT_SIZE < len(data) <= ACCOUNT_SIZE:
        raise ValueError(f"not a mint: {len(data)} bytes")
    _check_account_type(data, _ACCOUNT_TYPE_MINT, "mint")
    (supply,) = struct.unpack_from("<Q", data, 36)
    entries = tlv_entries(data)
    decoded: dict[str, object] = {}
    for kind, value in entries:
        if kind == ExtensionType.TRANSFER_FEE_CONFIG:
            decoded["transfer_fee_config"] = TransferFeeConfig.unpack(value)
        elif kind == ExtensionType.DEFAULT_ACCOUNT_STATE:
            decoded["default_account_state"] = AccountState(value[0])
        elif kind == ExtensionType.PERMANENT_DELEGATE:
            decoded["permanent_delegate"] = _optional_key(value)
        elif kind == ExtensionType.METADATA_POINTER:
            decoded["metadata_pointer"] = MetadataPointer(
                _optional_key(value[:32]), _optional_key(value[32:64])
            )
        elif kind == ExtensionType.TOKEN_METADATA:
            decoded["token_metadata"] = TokenMetadata.unpack(value)
    return Mint(
        mint_authority=_coption_key_at(data, 0),
        supply=supply,
        decimals=data[44],
        is_initialized=bool(data[45]),
        freeze_authority=_coption_key_at(data, 46),
        extensions=tuple(kind for kind, _ in entries),
        **decoded,  # type: ignore[arg-type]
    )


def parse_token_account(data: bytes) -> TokenAccount:
    """Decode token account data: base fields (state Initialized/Frozen) and TLV extensions."""
    data = bytes(data)
    if len(data) < ACCOUNT_SIZE or len(data) == MULTISIG_SIZE:
        raise ValueError(f"not a token account: {len(data)} bytes")
    _check_account_type(data, _ACCOUNT_TYPE_ACCOUNT, "token account")
    (amount,) = struct.unpack_from("<Q", data, 64)
    (native_tag, native_reserve) = struct.unpack_from("<IQ", data, 109)
    (delegated_amount,) = struct.unpack_from("<Q", data, 121)
    entries = tlv_entries(data)
    withheld = next(
        (struct.unpack("<Q", v)[0] for k, v in entries if k == ExtensionType.TRANSFER_FEE_AMOUNT),
        None,
    )
    return TokenAccount(
        mint=Pubkey.from_bytes(data[0:32]),
        owner=Pubkey.from_bytes(data[32:64]),
        amount=amount,
        delegate=_coption_key_at(data, 72),
        state=AccountState(data[108]),
        is_native=native_reserve if native_tag else None,
        delegated_amount=delegated_amount,
        close_authority=_coption_key_at(data, 129),
        extensions=tuple(kind for kind, _ in entries),
        withheld_amount=withheld,
    )


# ---------------------------------------------------------------- sizes and rent


def _extended_size(extensions: Iterable[ExtensionType], variable_len: int = 0) -> int:
    total = _TLV_START + variable_len
    for extension in dict.fromkeys(extensions):  # each type at most once, as Token-2022 counts
        if extension not in _FIXED_LEN:
            raise ValueError(f"no fixed size known for extension {extension!r}")
        total += _TLV_HEADER + _FIXED_LEN[extension]
    # A token-program account exactly the size of a multisig would be ambiguous.
    return total + 2 if total == MULTISIG_SIZE else total


def mint_space(
    extensions: Iterable[ExtensionType] = (), metadata: TokenMetadata | None = None
) -> int:
    """Bytes of a mint with these fixed-size extensions, plus the TokenMetadata entry if given.

    Allocate the mint with ``mint_space(extensions)`` (InitializeMint2 insists on that exact
    length) and fund it for ``mint_space(extensions, metadata)``: Token-2022 reallocates the mint
    when the metadata is initialised or grows, and the mint must stay rent-exempt.
    """
    extensions = tuple(extensions)
    if ExtensionType.TOKEN_METADATA in extensions:
        raise ValueError("pass the TokenMetadata value as `metadata`: its size varies")
    if not extensions and metadata is None:
        return MINT_SIZE
    return _extended_size(extensions, 0 if metadata is None else _TLV_HEADER + len(metadata.pack()))


def account_space(extensions: Iterable[ExtensionType] = ()) -> int:
    """Bytes of a token account with these (account) extensions."""
    extensions = tuple(extensions)
    return ACCOUNT_SIZE if not extensions else _extended_size(extensions)


def required_account_extensions(
    mint_extensions: Iterable[ExtensionType],
) -> tuple[ExtensionType, ...]:
    """The account extensions InitializeAccount adds for a mint with ``mint_extensions``."""
    required: list[ExtensionType] = []
    for extension in mint_extensions:
        required.extend(_REQUIRED_ACCOUNT_EXTENSIONS.get(ExtensionType(extension), ()))
    return tuple(dict.fromkeys(required))


def rent_exempt_lamports(space: int) -> int:
    """Rent-exempt minimum under the default cluster rent (what mainnet, devnet and LiteSVM use;
    a ledger's own ``getMinimumBalanceForRentExemption`` is the authority)."""
    return (space + _ACCOUNT_STORAGE_OVERHEAD) * _RENT_LAMPORTS_PER_BYTE
