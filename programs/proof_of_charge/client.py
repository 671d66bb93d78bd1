"""Instructions of the Proof-of-Charge program and the addresses they use.

The program id is always passed in (a deployment chooses it). Every builder returns a solders
``Instruction``; nothing here talks to a ledger. Instruction data is one tag byte followed by
little-endian fields without padding; the account lists are those documented at the top of
proof_of_charge.c.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from programs.proof_of_charge.amounts import U64_MAX, Rates, RewardClass
from programs.spl.token2022 import SYSTEM_PROGRAM_ID, TOKEN_2022_PROGRAM_ID

CONFIG_SEED = b"config"
MINT_AUTHORITY_SEED = b"mint_authority"
SESSION_SEED = b"session"
_I64 = (-(2**63), 2**63 - 1)
DEFAULT_RATES = Rates()


class Tag(IntEnum):
    """The first byte of the instruction data."""

    INITIALIZE = 0
    ADD_ATTESTOR = 1
    REMOVE_ATTESTOR = 2
    SET_PAUSED = 3
    UPDATE_RATES = 4
    RECORD_CHARGE = 5
    SET_ADMIN = 6


# ---------------------------------------------------------------- addresses


def config_pda(program_id: Pubkey) -> tuple[Pubkey, int]:
    """The config's address and bump: PDA ["config"]."""
    return Pubkey.find_program_address([CONFIG_SEED], program_id)


def mint_authority_pda(program_id: Pubkey) -> tuple[Pubkey, int]:
    """The EVCH mint authority's address and bump: PDA ["mint_authority"]."""
    return Pubkey.find_program_address([MINT_AUTHORITY_SEED], program_id)


def session_pda(program_id: Pubkey, session_id: bytes) -> tuple[Pubkey, int]:
    """A recorded session's address and bump: PDA ["session", session_id]."""
    seeds = [SESSION_SEED, _digest(session_id, "session_id")]
    return Pubkey.find_program_address(seeds, program_id)


def config_address(program_id: Pubkey) -> Pubkey:
    return config_pda(program_id)[0]


def mint_authority_address(program_id: Pubkey) -> Pubkey:
    return mint_authority_pda(program_id)[0]


def session_address(program_id: Pubkey, session_id: bytes) -> Pubkey:
    return session_pda(program_id, session_id)[0]


def session_id_hash(csms_session_id: str | int) -> bytes:
    """The on-chain session id: sha256 of the CSMS's session id (as its decimal text if int)."""
    return hashlib.sha256(str(csms_session_id).encode()).digest()


def charger_id_hash(charger_id: str) -> bytes:
    """The on-chain charger id: sha256 of the charger's id."""
    return hashlib.sha256(charger_id.encode()).digest()


# ---------------------------------------------------------------- the charge record


@dataclass(frozen=True)
class ChargeRecord:
    """What an attestor records for one session (RecordCharge's data after the tag)."""

    session_id: bytes  # 32 bytes: session_id_hash(...)
    charger_id: bytes  # 32 bytes: charger_id_hash(...)
    energy_wh: int
    start_unix: int  # seconds
    stop_unix: int
    meter_digest: bytes  # 32 bytes: digest of the signed meter data
    reward_class: RewardClass = RewardClass.NONE

    LAYOUT = struct.Struct("<32s32sQqq32sB")  # 121 bytes

    def __post_init__(self) -> None:
        _digest(self.session_id, "session_id")
        _digest(self.charger_id, "charger_id")
        _digest(self.meter_digest, "meter_digest")
        if not 0 <= self.energy_wh <= U64_MAX:
            raise ValueError(f"energy_wh must be a u64: {self.energy_wh}")
        for name in ("start_unix", "stop_unix"):
            if not _I64[0] <= getattr(self, name) <= _I64[1]:
                raise ValueError(f"{name} must be an i64: {getattr(self, name)}")
        if not 0 <= int(self.reward_class) <= 0xFF:
            raise ValueError(f"reward_class must be a u8: {self.reward_class}")

    @classmethod
    def for_session(
        cls,
        csms_session_id: str | int,
        charger_id: str,
        energy_wh: int,
        start: datetime,
        stop: datetime,
        meter_digest: bytes,
        reward_class: RewardClass = RewardClass.NONE,
    ) -> ChargeRecord:
        """The record of a CSMS session: ids hashed, timezone-aware times as unix seconds."""
        if start.tzinfo is None or stop.tzinfo is None:
            raise ValueError("start and stop must be timezone-aware")
        return cls(
            session_id_hash(csms_session_id),
            charger_id_hash(charger_id),
            energy_wh,
            int(start.timestamp()),
            int(stop.timestamp()),
            meter_digest,
            reward_class,
        )

    @classmethod
    def decode(cls, data: bytes) -> ChargeRecord:
        """A recorded RecordCharge's data after the tag."""
        fields = list(cls.LAYOUT.unpack(bytes(data[: cls.LAYOUT.size])))
        fields[-1] = RewardClass(fields[-1])
        return cls(*fields)

    def encode(self) -> bytes:
        return self.LAYOUT.pack(
            self.session_id,
            self.charger_id,
            self.energy_wh,
            self.start_unix,
            self.stop_unix,
            self.meter_digest,
            int(self.reward_class),
        )


def _digest(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes")
    return bytes(value)


# ---------------------------------------------------------------- instructions


def _signer(key: Pubkey, writable: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=True, is_writable=writable)


def _account(key: Pubkey, writable: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=False, is_writable=writable)


def initialize(
    program_id: Pubkey, *, admin: Pubkey, payer: Pubkey, mint: Pubkey, rates: Rates = DEFAULT_RATES
) -> Instruction:
    """Initialize: creates the config PDA (paid by ``payer``) with ``admin`` and ``rates``.

    ``mint`` must be an initialised Token-2022 mint whose mint authority is already
    :func:`mint_authority_address`. Anyone may initialise first, so create the mint and
    initialise in one transaction (or check the config's admin before using the program).
    Signers: admin, payer.
    """
    return Instruction(
        program_id,
        bytes([Tag.INITIALIZE]) + rates.encode(),
        [
            _signer(admin),
            _signer(payer, writable=True),
            _account(config_address(program_id), writable=True),
            _account(mint),
            _account(SYSTEM_PROGRAM_ID),
        ],
    )


def _admin_instruction(program_id: Pubkey, admin: Pubkey, data: bytes) -> Instruction:
    return Instruction(
        program_id, data, [_signer(admin), _account(config_address(program_id), writable=True)]
    )


def add_attestor(program_id: Pubkey, *, admin: Pubkey, attestor: Pubkey) -> Instruction:
    """AddAttestor: registers ``attestor`` (at most 8). Signer: admin."""
    return _admin_instruction(program_id, admin, bytes([Tag.ADD_ATTESTOR]) + bytes(attestor))


def remove_attestor(program_id: Pubkey, *, admin: Pubkey, attestor: Pubkey) -> Instruction:
    """RemoveAttestor: unregisters ``attestor``. Signer: admin."""
    return _admin_instruction(program_id, admin, bytes([Tag.REMOVE_ATTESTOR]) + bytes(attestor))


def set_paused(program_id: Pubkey, *, admin: Pubkey, paused: bool) -> Instruction:
    """SetPaused: while paused, RecordCharge fails with Paused. Signer: admin."""
    return _admin_instruction(program_id, admin, bytes([Tag.SET_PAUSED, int(paused)]))


def update_rates(program_id: Pubkey, *, admin: Pubkey, rates: Rates) -> Instruction:
    """UpdateRates: new rate, shares, multipliers and cap (not below the rewards already
    minted). Applies to sessions recorded afterwards. Signer: admin."""
    return _admin_instruction(program_id, admin, bytes([Tag.UPDATE_RATES]) + rates.encode())


def set_admin(program_id: Pubkey, *, admin: Pubkey, new_admin: Pubkey) -> Instruction:
    """SetAdmin: hands the config to ``new_admin``. Signers: admin and new admin."""
    instruction = _admin_instruction(program_id, admin, bytes([Tag.SET_ADMIN]))
    return Instruction(program_id, instruction.data, [*instruction.accounts, _signer(new_admin)])


def record_charge(
    program_id: Pubkey,
    *,
    attestor: Pubkey,
    payer: Pubkey,
    mint: Pubkey,
    driver_token: Pubkey,
    operator_token: Pubkey,
    record: ChargeRecord,
) -> Instruction:
    """RecordCharge: records ``record`` once and mints its amounts (see amounts.mint_amounts)
    to the driver's and the operator's Token-2022 accounts of ``mint``. ``payer`` funds the
    session account (rent-exempt, 264 bytes). Signers: attestor, payer (may be the same key).
    Return data: MintAmounts (3 x u64)."""
    return Instruction(
        program_id,
        bytes([Tag.RECORD_CHARGE]) + record.encode(),
        [
            _signer(attestor),
            _account(config_address(program_id), writable=True),
            _account(session_address(program_id, record.session_id), writable=True),
            _signer(payer, writable=True),
            _account(mint, writable=True),
            _account(mint_authority_address(program_id)),
            _account(driver_token, writable=True),
            _account(operator_token, writable=True),
            _account(TOKEN_2022_PROGRAM_ID),
            _account(SYSTEM_PROGRAM_ID),
        ],
    )
