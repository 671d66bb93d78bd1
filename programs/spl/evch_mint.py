"""The EVCH token and the Green Credit token, as the project defines them (Token-2022).

EVCH: decimals 6, so 1 raw unit = 1 mWh and 1 EVCH ~ 1 kWh of verified charging energy, with

* TransferFee: the platform fee (basis points, capped), changed by the fee-config authority and
  withdrawn by the withdraw authority (treasury/admin);
* DefaultAccountState = Frozen: every new token account starts frozen; the freeze authority
  thaws it once its holder passed KYC (and freezes it again if KYC is revoked);
* PermanentDelegate: the regulator/admin can transfer (clawback) and burn from any account;
* MetadataPointer at the mint itself + TokenMetadata: name, symbol, uri and ``unit = kWh``.

Green Credit: a NonTransferable mint (decimals 6, 1 raw = 1 mWh of renewable charging) with the
same on-mint metadata; holders can burn (retire) credits but never transfer them.

Creating a mint: the mint account is allocated for its fixed-size extensions and funded for its
final size with the metadata; the extensions are initialised before InitializeMint2, the
metadata after it. Initialising metadata needs the mint authority's signature, and the final
mint authority (the Proof-of-Charge program's PDA) cannot sign from outside its program, so the
admin is the mint authority while the mint is built and the last instruction hands minting to
``mint_authority``. Signers of the creation transaction: payer, the mint keypair, the admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account

from programs.spl.token2022 import (
    MAX_FEE_BASIS_POINTS,
    TOKEN_2022_PROGRAM_ID,
    AccountState,
    AuthorityType,
    ExtensionType,
    TokenMetadata,
    burn_checked,
    freeze_account,
    initialize_default_account_state,
    initialize_metadata_pointer,
    initialize_mint2,
    initialize_non_transferable_mint,
    initialize_permanent_delegate,
    initialize_token_metadata,
    initialize_transfer_fee_config,
    mint_space,
    rent_exempt_lamports,
    set_authority,
    thaw_account,
    transfer_checked,
    transfer_fee,
    update_token_metadata_field,
)

EVCH_DECIMALS = 6
GREEN_CREDIT_DECIMALS = 6
RAW_PER_WH = 1_000  # 1 raw unit = 1 mWh
RAW_PER_KWH = 1_000_000  # 1 EVCH (or 1 Green Credit)

EVCH_MINT_EXTENSIONS = (
    ExtensionType.TRANSFER_FEE_CONFIG,
    ExtensionType.DEFAULT_ACCOUNT_STATE,
    ExtensionType.PERMANENT_DELEGATE,
    ExtensionType.METADATA_POINTER,
)
GREEN_CREDIT_MINT_EXTENSIONS = (
    ExtensionType.NON_TRANSFERABLE,
    ExtensionType.METADATA_POINTER,
)
_U64_MAX = 2**64 - 1


def raw_from_energy_wh(energy_wh: int) -> int:
    """Raw token units for whole watt-hours of energy (1 Wh = 1,000 raw)."""
    if energy_wh < 0:
        raise ValueError(f"energy must not be negative, got {energy_wh} Wh")
    return energy_wh * RAW_PER_WH


def _check_metadata(name: str, symbol: str, additional: tuple[tuple[str, str], ...]) -> None:
    if not name or not symbol:
        raise ValueError("name and symbol must not be empty")
    keys = [key for key, _ in additional]
    if len(set(keys)) != len(keys) or not all(keys):
        raise ValueError(f"additional metadata keys must be unique and non-empty: {keys}")


@dataclass(frozen=True)
class EvchMintConfig:
    """Who may do what to the EVCH mint, its fee and its metadata.

    ``admin`` builds the mint and is the update authority of its metadata and of the metadata
    pointer. Amounts are raw units (1 raw = 1 mWh).
    """

    admin: Pubkey
    freeze_authority: Pubkey  # KYC: thaws accounts of verified holders
    fee_config_authority: Pubkey  # may change the transfer fee
    fee_withdraw_authority: Pubkey  # collects withheld fees into the treasury
    permanent_delegate: Pubkey  # regulator: clawback and burn from any account
    transfer_fee_bps: int
    maximum_fee: int
    name: str = "EVCH"
    symbol: str = "EVCH"
    uri: str = ""
    additional_metadata: tuple[tuple[str, str], ...] = (("unit", "kWh"),)

    def __post_init__(self) -> None:
        if not 0 <= self.transfer_fee_bps <= MAX_FEE_BASIS_POINTS:
            raise ValueError(f"transfer fee must be 0..10000 bps, got {self.transfer_fee_bps}")
        if not 0 <= self.maximum_fee <= _U64_MAX:
            raise ValueError(f"maximum fee must fit in a u64, got {self.maximum_fee}")
        _check_metadata(self.name, self.symbol, self.additional_metadata)

    def token_metadata(self, mint: Pubkey) -> TokenMetadata:
        """The metadata as it reads back from the mint once created."""
        return TokenMetadata(
            mint, self.name, self.symbol, self.uri, self.admin, self.additional_metadata
        )

    def fee(self, amount: int) -> int:
        """The transfer fee on ``amount`` raw under this configuration's fee."""
        return transfer_fee(amount, self.transfer_fee_bps, self.maximum_fee)


@dataclass(frozen=True)
class GreenCreditMintConfig:
    """The Green Credit mint: NonTransferable, on-mint metadata, no fee, no default freeze."""

    admin: Pubkey
    freeze_authority: Pubkey | None = None
    name: str = "EVCH Green Credit"
    symbol: str = "EVGC"
    uri: str = ""
    additional_metadata: tuple[tuple[str, str], ...] = (("unit", "kWh"),)

    def __post_init__(self) -> None:
        _check_metadata(self.name, self.symbol, self.additional_metadata)

    def token_metadata(self, mint: Pubkey) -> TokenMetadata:
        return TokenMetadata(
            mint, self.name, self.symbol, self.uri, self.admin, self.additional_metadata
        )


def evch_mint_space(config: EvchMintConfig, mint: Pubkey) -> tuple[int, int]:
    """(bytes allocated at creation, final bytes once the metadata is written)."""
    return (
        mint_space(EVCH_MINT_EXTENSIONS),
        mint_space(EVCH_MINT_EXTENSIONS, config.token_metadata(mint)),
    )


def green_credit_mint_space(config: GreenCreditMintConfig, mint: Pubkey) -> tuple[int, int]:
    """(bytes allocated at creation, final bytes once the metadata is written)."""
    return (
        mint_space(GREEN_CREDIT_MINT_EXTENSIONS),
        mint_space(GREEN_CREDIT_MINT_EXTENSIONS, config.token_metadata(mint)),
    )


def _create_mint_account(
    payer: Pubkey, mint: Pubkey, space: int, final_space: int, lamports: int | None
) -> Instruction:
    return create_account(
        CreateAccountParams(
            from_pubkey=payer,
            to_pubkey=mint,
            lamports=rent_exempt_lamports(final_space) if lamports is None else lamports,
            space=space,
            owner=TOKEN_2022_PROGRAM_ID,
        )
    )


def _metadata_and_handover(
    mint: Pubkey, admin: Pubkey, metadata: TokenMetadata, mint_authority: Pubkey
) -> list[Instruction]:
    instructions = [
        initialize_token_metadata(
            mint,
            update_authority=admin,
            mint_authority=admin,
            name=metadata.name,
            symbol=metadata.symbol,
            uri=metadata.uri,
        ),
        *(update_token_metadata_field(mint, admin, k, v) for k, v in metadata.additional),
    ]
    if mint_authority != admin:
        instructions.append(set_authority(mint, admin, AuthorityType.MINT_TOKENS, mint_authority))
    return instructions


def create_evch_mint(
    config: EvchMintConfig,
    *,
    payer: Pubkey,
    mint: Pubkey,
    mint_authority: Pubkey,
    lamports: int | None = None,
) -> list[Instruction]:
    """Instructions creating the EVCH mint at ``mint`` (a new keypair's address), in order.

    ``lamports`` funds the mint (default: rent-exempt for the final size under default rent;
    pass the ledger's own figure for the final size where rent differs). Signers: payer, mint,
    ``config.admin``. One transaction: about 820 bytes plus the metadata strings, within the
    1,232-byte limit for any reasonable uri.
    """
    space, final_space = evch_mint_space(config, mint)
    return [
        _create_mint_account(payer, mint, space, final_space, lamports),
        initialize_transfer_fee_config(
            mint,
            config_authority=config.fee_config_authority,
            withdraw_authority=config.fee_withdraw_authority,
            fee_basis_points=config.transfer_fee_bps,
            maximum_fee=config.maximum_fee,
        ),
        initialize_default_account_state(mint, AccountState.FROZEN),
        initialize_permanent_delegate(mint, config.permanent_delegate),
        initialize_metadata_pointer(mint, authority=config.admin, metadata_address=mint),
        initialize_mint2(
            mint,
            decimals=EVCH_DECIMALS,
            mint_authority=config.admin,
            freeze_authority=config.freeze_authority,
        ),
        *_metadata_and_handover(mint, config.admin, config.token_metadata(mint), mint_authority),
    ]


def create_green_credit_mint(
    config: GreenCreditMintConfig,
    *,
    payer: Pubkey,
    mint: Pubkey,
    mint_authority: Pubkey,
    lamports: int | None = None,
) -> list[Instruction]:
    """Instructions creating the Green Credit mint; signers as :func:`create_evch_mint`."""
    space, final_space = green_credit_mint_space(config, mint)
    return [
        _create_mint_account(payer, mint, space, final_space, lamports),
        initialize_non_transferable_mint(mint),
        initialize_metadata_pointer(mint, authority=config.admin, metadata_address=mint),
        initialize_mint2(
            mint,
            decimals=GREEN_CREDIT_DECIMALS,
            mint_authority=config.admin,
            freeze_authority=config.freeze_authority,
        ),
        *_metadata_and_handover(mint, config.admin, config.token_metadata(mint), mint_authority),
    ]


def clawback(
    config: EvchMintConfig,
    mint: Pubkey,
    *,
    source: Pubkey,
    destination: Pubkey,
    amount: int,
    source_frozen: bool,
) -> list[Instruction]:
    """The permanent delegate takes ``amount`` raw from ``source`` to ``destination``.

    Token-2022 refuses any transfer out of a frozen account, the permanent delegate's too, so a
    frozen source (KYC revoked) is thawed, debited and frozen again in the same transaction;
    then the freeze authority signs as well as the permanent delegate. The destination must be
    thawed. The mint's transfer fee is withheld on the destination as on any transfer.
    """
    move = transfer_checked(
        source, mint, destination, config.permanent_delegate, amount, EVCH_DECIMALS
    )
    return _thawed_for(config, mint, source, move) if source_frozen else [move]


def burn_from(
    config: EvchMintConfig,
    mint: Pubkey,
    *,
    source: Pubkey,
    amount: int,
    source_frozen: bool,
) -> list[Instruction]:
    """The permanent delegate burns ``amount`` raw from ``source``, without its holder.

    As for :func:`clawback`, Token-2022 refuses to burn from a frozen account, the permanent
    delegate's burn too, so a frozen source is thawed, burnt from and frozen again in the same
    transaction (signers: the permanent delegate, and the freeze authority for a frozen source).
    """
    destroy = burn_checked(source, mint, config.permanent_delegate, amount, EVCH_DECIMALS)
    return _thawed_for(config, mint, source, destroy) if source_frozen else [destroy]


def _thawed_for(
    config: EvchMintConfig, mint: Pubkey, account: Pubkey, instruction: Instruction
) -> list[Instruction]:
    """``instruction`` on a frozen ``account``: thawed just before and frozen again after."""
    return [
        thaw_account(account, mint, config.freeze_authority),
        instruction,
        freeze_account(account, mint, config.freeze_authority),
    ]
