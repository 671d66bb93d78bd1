"""Python side of the staking program (``staking.c`` beside this file).

Instruction builders return solders ``Instruction`` values; parsers decode the program's
accounts; :func:`tier_of` and :func:`fee_discount_bps` turn an owner's positions into the
discount the pricing engine applies. Nothing here talks to a ledger.

Accounts (little-endian, every program-owned account starts with a kind byte):

config, PDA ``["staking_config"]``, :data:`CONFIG_LEN` bytes::

    0 u8 kind = 1      1 u8 version     2 u8 bump         3 u8 vault_bump
    4 u8 paused        5 u8 tier_count  6 u8 decimals     7 pad
    8 admin[32]        40 mint[32]      72 vault token account[32]
    104 vault authority[32] (PDA ["vault"])               136 token program[32]
    168 u64 total_staked   176 u64 open_positions   184 u64 min_lock_s   192 u64 max_lock_s
    200 8 x tier: u64 min_amount, u64 min_lock_s, u16 discount_bps, 6 pad   (24 bytes each)

position, PDA ``["position", owner, nonce u64 LE]``, :data:`POSITION_LEN` bytes::

    0 u8 kind = 2   1 u8 version   2 u8 bump   3 u8 tier (1-based, 0 = none)
    4 u16 discount_bps   6 pad    8 owner[32]   40 u64 nonce
    48 u64 amount (arrived in the vault)   56 u64 deposited (sent by the owner)
    64 i64 lock_start   72 i64 lock_end  (unix seconds, from the Clock sysvar)

Instruction data is one tag byte (:class:`StakingInstruction`) then the fields; a tier table is
``u8 count`` then ``count x (u64 min_amount, u64 min_lock_s, u16 discount_bps)``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

PROGRAM_SOURCE = Path(__file__).resolve().parent  # build with programs.sbpf.build.build_program

TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ASSOCIATED_TOKEN_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
BPF_LOADER_UPGRADEABLE_ID = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")

CONFIG_SEED = b"staking_config"
VAULT_SEED = b"vault"
POSITION_SEED = b"position"

CONFIG_LEN = 392
POSITION_LEN = 80
KIND_CONFIG = 1
KIND_POSITION = 2
MAX_TIERS = 8
MAX_DISCOUNT_BPS = 10_000
MAX_LOCK_S = 2**63 - 1
POSITION_OWNER_OFFSET = 8  # for a getProgramAccounts memcmp filter on the owner

_U64 = 2**64 - 1


class StakingInstruction(IntEnum):
    """The tag byte of each instruction."""

    INITIALIZE = 0
    SET_TIERS = 1
    STAKE = 2
    UNSTAKE = 3
    SET_PAUSED = 4
    SET_LOCKUP = 5
    SET_ADMIN = 6


class StakingError(IntEnum):
    """The program's custom error codes (``Custom(n)``), mirroring ``enum StakingError``.

    They start at 6000 so that they never collide with the Token-2022 or System program codes
    that a failed cross-program call passes through unchanged.
    """

    NOT_ADMIN = 6000
    NOT_OWNER = 6001
    EARLY_UNSTAKE = 6002
    PAUSED = 6003
    ZERO_AMOUNT = 6004
    ARITHMETIC_OVERFLOW = 6005
    INVALID_ACCOUNT = 6006
    INVALID_INSTRUCTION = 6007
    TOO_MANY_TIERS = 6008
    INVALID_LOCKUP = 6009
    ALREADY_INITIALIZED = 6010

    @property
    def message(self) -> str:
        return _ERROR_MESSAGES[self]

    @classmethod
    def from_code(cls, code: int) -> StakingError | None:
        """The error for a ``Custom(code)``, or None when the code is not the program's own."""
        try:
            return cls(code)
        except ValueError:
            return None


_ERROR_MESSAGES = {
    StakingError.NOT_ADMIN: "the signer is not the staking admin",
    StakingError.NOT_OWNER: "the signer does not own this position",
    StakingError.EARLY_UNSTAKE: "the position is still locked",
    StakingError.PAUSED: "staking is paused",
    StakingError.ZERO_AMOUNT: "nothing to stake (zero amount, or nothing arrived in the vault)",
    StakingError.ARITHMETIC_OVERFLOW: "an amount or time overflowed",
    StakingError.INVALID_ACCOUNT: (
        "an account is not the one expected (PDA, owner, mint, vault or token program)"
    ),
    StakingError.INVALID_INSTRUCTION: "malformed instruction data",
    StakingError.TOO_MANY_TIERS: f"more than {MAX_TIERS} tiers",
    StakingError.INVALID_LOCKUP: "lock length outside the configured lockup range",
    StakingError.ALREADY_INITIALIZED: "the account already exists",
}


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class Tier:
    """A fee-discount tier: a position qualifies when it stakes at least ``min_amount`` raw
    units (what arrived in the vault) for at least ``min_lock_s`` seconds."""

    min_amount: int
    min_lock_s: int
    discount_bps: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_amount <= _U64 or not 0 <= self.min_lock_s <= _U64:
            raise ValueError(f"tier minimums must fit in u64: {self}")
        if not 0 <= self.discount_bps <= MAX_DISCOUNT_BPS:
            raise ValueError(f"discount_bps must be within 0..{MAX_DISCOUNT_BPS}: {self}")

    def pack(self) -> bytes:
        return struct.pack("<QQH", self.min_amount, self.min_lock_s, self.discount_bps)


@dataclass(frozen=True)
class StakingConfig:
    admin: Pubkey
    mint: Pubkey
    vault: Pubkey  # the vault token account
    vault_authority: Pubkey  # PDA ["vault"], the vault token account's owner
    token_program: Pubkey
    decimals: int
    paused: bool
    total_staked: int
    open_positions: int
    min_lock_s: int
    max_lock_s: int
    tiers: tuple[Tier, ...]
    bump: int
    vault_bump: int


@dataclass(frozen=True)
class Position:
    owner: Pubkey
    nonce: int
    amount: int  # raw units that arrived in the vault, returned on unstake
    deposited: int  # raw units the owner sent (amount + any transfer fee withheld)
    lock_start: int  # unix seconds
    lock_end: int  # unix seconds
    tier: int  # 1-based index into the tier table when staked; 0 = none
    discount_bps: int  # that tier's discount when staked
    bump: int
    address: Pubkey | None = None

    def is_locked(self, now: int | datetime) -> bool:
        return _unix(now) < self.lock_end

    @property
    def lock_end_at(self) -> datetime:
        return datetime.fromtimestamp(self.lock_end, UTC)

    @property
    def lock_start_at(self) -> datetime:
        return datetime.fromtimestamp(self.lock_start, UTC)


def parse_config(data: bytes) -> StakingConfig:
    data = bytes(data)
    if len(data) < CONFIG_LEN or data[0] != KIND_CONFIG:
        raise ValueError(f"not a staking config account ({len(data)} bytes)")
    _, _, bump, vault_bump, paused, tier_count, decimals = struct.unpack_from("<7B", data, 0)
    keys = [Pubkey.from_bytes(data[o : o + 32]) for o in (8, 40, 72, 104, 136)]
    total, open_positions, min_lock_s, max_lock_s = struct.unpack_from("<4Q", data, 168)
    tiers = tuple(
        Tier(*struct.unpack_from("<QQH", data, 200 + 24 * i)) for i in range(min(tier_count, 8))
    )
    return StakingConfig(
        admin=keys[0],
        mint=keys[1],
        vault=keys[2],
        vault_authority=keys[3],
        token_program=keys[4],
        decimals=decimals,
        paused=bool(paused),
        total_staked=total,
        open_positions=open_positions,
        min_lock_s=min_lock_s,
        max_lock_s=max_lock_s,
        tiers=tiers,
        bump=bump,
        vault_bump=vault_bump,
    )


def parse_position(data: bytes, address: Pubkey | None = None) -> Position:
    data = bytes(data)
    if len(data) < POSITION_LEN or data[0] != KIND_POSITION:
        raise ValueError(f"not a staking position account ({len(data)} bytes)")
    _, _, bump, tier, discount_bps = struct.unpack_from("<4BH", data, 0)
    nonce, amount, deposited, lock_start, lock_end = struct.unpack_from("<QQQqq", data, 40)
    return Position(
        owner=Pubkey.from_bytes(data[8:40]),
        nonce=nonce,
        amount=amount,
        deposited=deposited,
        lock_start=lock_start,
        lock_end=lock_end,
        tier=tier,
        discount_bps=discount_bps,
        bump=bump,
        address=address,
    )


def positions_of(accounts: Iterable[tuple[Pubkey, bytes]], owner: Pubkey) -> list[Position]:
    """The owner's positions among (address, data) pairs of program accounts (e.g. from
    getProgramAccounts with a memcmp on :data:`POSITION_OWNER_OFFSET`); others are skipped."""
    found = []
    for address, data in accounts:
        data = bytes(data)
        if len(data) < POSITION_LEN or data[0] != KIND_POSITION:
            continue
        position = parse_position(data, address)
        if position.owner == owner:
            found.append(position)
    return found


# ---------------------------------------------------------------------------- tiers off chain


def _unix(now: int | datetime) -> int:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return int(now.timestamp())
    return int(now)


def best_position(positions: Iterable[Position], now: int | datetime) -> Position | None:
    """The position that gives its owner the largest discount at ``now``: only positions still
    locked count (once the lock ends the tokens may leave at any moment); the first on a tie."""
    t = _unix(now)
    best = None
    for position in positions:
        if position.tier == 0 or t >= position.lock_end:
            continue
        if best is None or position.discount_bps > best.discount_bps:
            best = position
    return best


def tier_of(positions: Iterable[Position], now: int | datetime) -> int:
    """The owner's tier: the best tier (by discount) among their positions locked at ``now``,
    as recorded on chain when each was staked (1-based index into the tier table); 0 = none."""
    best = best_position(positions, now)
    return best.tier if best else 0


def fee_discount_bps(positions: Iterable[Position], now: int | datetime) -> int:
    """The fee discount in basis points the owner's positions earn at ``now`` (0 = none)."""
    best = best_position(positions, now)
    return best.discount_bps if best else 0


def qualifying_tier(tiers: Iterable[Tier], amount: int, lock_s: int) -> int:
    """The tier (1-based, 0 = none) that staking ``amount`` for ``lock_s`` seconds earns under
    ``tiers``: the largest discount whose minimums are met, the first on a tie (as on chain)."""
    best, best_bps = 0, 0
    for index, tier in enumerate(tiers, start=1):
        if amount >= tier.min_amount and lock_s >= tier.min_lock_s:
            if best == 0 or tier.discount_bps > best_bps:
                best, best_bps = index, tier.discount_bps
    return best


# ---------------------------------------------------------------------------- addresses


def config_address(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([CONFIG_SEED], program_id)[0]


def vault_authority_address(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([VAULT_SEED], program_id)[0]


def position_address(program_id: Pubkey, owner: Pubkey, nonce: int) -> Pubkey:
    seeds = [POSITION_SEED, bytes(owner), struct.pack("<Q", _u64(nonce, "nonce"))]
    return Pubkey.find_program_address(seeds, program_id)[0]


def vault_token_account(
    program_id: Pubkey, mint: Pubkey, token_program: Pubkey = TOKEN_2022_PROGRAM_ID
) -> Pubkey:
    """The vault PDA's associated token account for ``mint``: the usual vault token account
    (the program accepts any token account of the mint owned by the vault PDA)."""
    seeds = [bytes(vault_authority_address(program_id)), bytes(token_program), bytes(mint)]
    return Pubkey.find_program_address(seeds, ASSOCIATED_TOKEN_PROGRAM_ID)[0]


def program_data_address(program_id: Pubkey) -> Pubkey:
    """The upgradeable loader's ProgramData account of ``program_id``."""
    return Pubkey.find_program_address([bytes(program_id)], BPF_LOADER_UPGRADEABLE_ID)[0]


# ---------------------------------------------------------------------------- instructions


def _u64(value: int, what: str) -> int:
    if not 0 <= value <= _U64:
        raise ValueError(f"{what} must fit in u64, got {value}")
    return value


def _lockup(min_lock_s: int, max_lock_s: int) -> bytes:
    if not 0 <= min_lock_s <= max_lock_s <= MAX_LOCK_S:
        raise ValueError(f"need 0 <= min_lock_s <= max_lock_s <= 2**63-1: {min_lock_s, max_lock_s}")
    return struct.pack("<QQ", min_lock_s, max_lock_s)


def _tier_table(tiers: Iterable[Tier]) -> bytes:
    tiers = list(tiers)
    if len(tiers) > MAX_TIERS:
        raise ValueError(f"at most {MAX_TIERS} tiers, got {len(tiers)}")
    return bytes([len(tiers)]) + b"".join(tier.pack() for tier in tiers)


def _w(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=True)


def _r(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=False)


def _ix(program_id: Pubkey, tag: StakingInstruction, data: bytes, accounts: list[AccountMeta]):
    return Instruction(program_id, bytes([tag]) + data, accounts)


def initialize(
    program_id: Pubkey,
    *,
    admin: Pubkey,
    mint: Pubkey,
    min_lock_s: int,
    max_lock_s: int,
    tiers: Iterable[Tier] = (),
    vault: Pubkey | None = None,
    token_program: Pubkey = TOKEN_2022_PROGRAM_ID,
) -> Instruction:
    """Initialize: creates the config (the admin pays). The vault token account (default: the
    vault PDA's associated account, see :func:`vault_token_account`) must exist beforehand,
    owned by the vault PDA. On an upgradeable deployment the admin must be the program's
    upgrade authority.

    Accounts: admin (s, w), config (w), vault authority, vault token account, mint, token
    program, System program, the program, its ProgramData. Data: u64 min_lock_s,
    u64 max_lock_s, tier table.
    """
    vault = vault or vault_token_account(program_id, mint, token_program)
    return _ix(
        program_id,
        StakingInstruction.INITIALIZE,
        _lockup(min_lock_s, max_lock_s) + _tier_table(tiers),
        [
            _w(admin, signer=True),
            _w(config_address(program_id)),
            _r(vault_authority_address(program_id)),
            _r(vault),
            _r(mint),
            _r(token_program),
            _r(SYSTEM_PROGRAM_ID),
            _r(program_id),
            _r(program_data_address(program_id)),
        ],
    )


def _admin_ix(program_id: Pubkey, admin: Pubkey, tag: StakingInstruction, data: bytes, *extra):
    return _ix(
        program_id, tag, data, [_r(admin, signer=True), _w(config_address(program_id)), *extra]
    )


def set_tiers(program_id: Pubkey, admin: Pubkey, tiers: Iterable[Tier]) -> Instruction:
    """SetTiers: replaces the tier table (positions keep the tier they were staked with)."""
    return _admin_ix(program_id, admin, StakingInstruction.SET_TIERS, _tier_table(tiers))


def set_paused(program_id: Pubkey, admin: Pubkey, paused: bool) -> Instruction:
    """SetPaused: while paused, Stake and Unstake fail with PAUSED."""
    return _admin_ix(program_id, admin, StakingInstruction.SET_PAUSED, bytes([int(paused)]))


def set_lockup(program_id: Pubkey, admin: Pubkey, min_lock_s: int, max_lock_s: int) -> Instruction:
    """SetLockup: the range of lock lengths Stake accepts, in seconds."""
    return _admin_ix(
        program_id, admin, StakingInstruction.SET_LOCKUP, _lockup(min_lock_s, max_lock_s)
    )


def set_admin(program_id: Pubkey, admin: Pubkey, new_admin: Pubkey) -> Instruction:
    """SetAdmin: hands the config to ``new_admin``, who signs too."""
    return _admin_ix(
        program_id, admin, StakingInstruction.SET_ADMIN, b"", _r(new_admin, signer=True)
    )


def stake(
    program_id: Pubkey,
    *,
    owner: Pubkey,
    source: Pubkey,
    mint: Pubkey,
    amount: int,
    lock_s: int,
    nonce: int,
    vault: Pubkey | None = None,
    token_program: Pubkey = TOKEN_2022_PROGRAM_ID,
) -> Instruction:
    """Stake ``amount`` raw units from the owner's token account ``source`` for ``lock_s``
    seconds into a new position ``["position", owner, nonce]`` (the owner pays its rent).

    Accounts: owner (s, w), config (w), position (w), source (w), vault token account (w),
    mint, token program, System program. Data: u64 amount, u64 lock_s, u64 nonce.
    """
    vault = vault or vault_token_account(program_id, mint, token_program)
    data = struct.pack("<QQQ", _u64(amount, "amount"), _u64(lock_s, "lock_s"), _u64(nonce, "nonce"))
    return _ix(
        program_id,
        StakingInstruction.STAKE,
        data,
        [
            _w(owner, signer=True),
            _w(config_address(program_id)),
            _w(position_address(program_id, owner, nonce)),
            _w(source),
            _w(vault),
            _r(mint),
            _r(token_program),
            _r(SYSTEM_PROGRAM_ID),
        ],
    )


def unstake(
    program_id: Pubkey,
    *,
    owner: Pubkey,
    position: Pubkey,
    destination: Pubkey,
    mint: Pubkey,
    vault: Pubkey | None = None,
    token_program: Pubkey = TOKEN_2022_PROGRAM_ID,
) -> Instruction:
    """Unstake: at or after the lock end, the position's amount goes from the vault to
    ``destination`` (a token account of the mint) and the position closes, its rent going
    back to the owner. Use :func:`position_address` for ``position``.

    Accounts: owner (s, w), config (w), position (w), destination (w), vault token account
    (w), mint, vault authority, token program. No data.
    """
    vault = vault or vault_token_account(program_id, mint, token_program)
    return _ix(
        program_id,
        StakingInstruction.UNSTAKE,
        b"",
        [
            _w(owner, signer=True),
            _w(config_address(program_id)),
            _w(position),
            _w(destination),
            _w(vault),
            _r(mint),
            _r(vault_authority_address(program_id)),
            _r(token_program),
        ],
    )
