"""The Proof-of-Charge program's accounts, parsed (layouts of ``struct Config`` and
``struct Session`` in proof_of_charge.c; little-endian, naturally aligned).

Config, PDA ["config"], 512 bytes::

      0 u8 kind (1)   1 u8 version (1)   2 u8 paused   3 u8 config bump
      4 u8 mint authority bump   5 u8 attestor count   6 [2] reserved
      8 admin[32]   40 mint[32]   72 mint authority PDA[32]   104 attestors[8][32]
    360 u64 mint rate (raw/kWh)   368 u16 driver bps   370 u16 operator bps
    372 u32 off-peak multiplier bps   376 u32 renewable multiplier bps   380 u32 reserved
    384 u64 rewards cap (raw)   392 u64 verified Wh   400 u64 minted to drivers (raw, rewards
    not included)   408 u64 minted to operators   416 u64 rewards minted   424 u64 sessions
    432 [80] reserved

Session, PDA ["session", session_id], 264 bytes::

      0 u8 kind (2)   1 u8 version (1)   2 u8 reward class   3 u8 bump   4 [4] reserved
      8 session id[32]   40 charger id[32]   72 u64 energy Wh   80 i64 start   88 i64 stop (unix s)
     96 meter digest[32]   128 u64 driver raw   136 u64 operator raw   144 u64 reward raw
    152 attestor[32]   184 u64 slot recorded   192 i64 unix time recorded
    200 driver token account[32]   232 operator token account[32]
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from programs.proof_of_charge.amounts import MintAmounts, Rates, RewardClass

MAX_ATTESTORS = 8
LAYOUT_VERSION = 1
KIND_CONFIG = 1
KIND_SESSION = 2
CONFIG_SIZE = 512
SESSION_SIZE = 264

_CONFIG_HEAD = struct.Struct("<BBBBBB2x32s32s32s")  # up to the attestors, 104 bytes
_CONFIG_TAIL = struct.Struct("<QHHII4xQQQQQQ")  # from offset 360 to 432
_ATTESTORS_OFFSET = 104
_RATES_OFFSET = 360
_SESSION = struct.Struct("<BBBB4x32s32sQqq32sQQQ32sQq32s32s")

assert _CONFIG_HEAD.size == _ATTESTORS_OFFSET
assert _ATTESTORS_OFFSET + MAX_ATTESTORS * 32 == _RATES_OFFSET
assert _RATES_OFFSET + _CONFIG_TAIL.size == 432
assert _SESSION.size == SESSION_SIZE


class AccountLayoutError(ValueError):
    """The bytes are not a Proof-of-Charge account of the expected kind and version."""


@dataclass(frozen=True)
class ConfigState:
    """The program's config: who may do what, the rates and the cumulative counters."""

    admin: Pubkey
    mint: Pubkey
    mint_authority: Pubkey
    attestors: tuple[Pubkey, ...]
    rates: Rates
    paused: bool
    verified_wh: int
    minted_driver_raw: int  # the drivers' shares of the base; rewards counted apart
    minted_operator_raw: int
    rewards_minted_raw: int
    sessions_recorded: int
    config_bump: int
    mint_authority_bump: int

    @property
    def minted_total_raw(self) -> int:
        return self.minted_driver_raw + self.minted_operator_raw + self.rewards_minted_raw

    @property
    def rewards_left_raw(self) -> int:
        return self.rates.rewards_cap_raw - self.rewards_minted_raw

    @classmethod
    def parse(cls, data: bytes) -> ConfigState:
        data = bytes(data)
        if len(data) < CONFIG_SIZE:
            raise AccountLayoutError(f"config is {CONFIG_SIZE} bytes, got {len(data)}")
        kind, version, paused, bump, authority_bump, count, admin, mint, authority = (
            _CONFIG_HEAD.unpack_from(data)
        )
        if kind != KIND_CONFIG or version != LAYOUT_VERSION or count > MAX_ATTESTORS:
            raise AccountLayoutError(f"not a config (kind {kind}, version {version})")
        attestors = tuple(
            Pubkey.from_bytes(data[offset : offset + 32])
            for offset in range(_ATTESTORS_OFFSET, _ATTESTORS_OFFSET + 32 * count, 32)
        )
        (rate, driver, operator, off_peak, renewable, cap, wh, to_drivers, to_operators, rewards,
         sessions) = _CONFIG_TAIL.unpack_from(data, _RATES_OFFSET)  # fmt: skip
        return cls(
            admin=Pubkey.from_bytes(admin),
            mint=Pubkey.from_bytes(mint),
            mint_authority=Pubkey.from_bytes(authority),
            attestors=attestors,
            rates=Rates(rate, driver, operator, off_peak, renewable, cap),
            paused=bool(paused),
            verified_wh=wh,
            minted_driver_raw=to_drivers,
            minted_operator_raw=to_operators,
            rewards_minted_raw=rewards,
            sessions_recorded=sessions,
            config_bump=bump,
            mint_authority_bump=authority_bump,
        )


@dataclass(frozen=True)
class SessionState:
    """One recorded session: what was attested, what was minted, by whom and when."""

    session_id: bytes  # sha256 of the CSMS session id
    charger_id: bytes  # sha256 of the charger id
    energy_wh: int
    start_unix: int
    stop_unix: int
    meter_digest: bytes
    reward_class: RewardClass
    amounts: MintAmounts
    attestor: Pubkey
    recorded_slot: int
    recorded_unix: int
    driver_token: Pubkey
    operator_token: Pubkey
    bump: int

    @classmethod
    def parse(cls, data: bytes) -> SessionState:
        data = bytes(data)
        if len(data) < SESSION_SIZE:
            raise AccountLayoutError(f"session is {SESSION_SIZE} bytes, got {len(data)}")
        (kind, version, reward_class, bump, session_id, charger_id, energy_wh, start, stop, digest,
         driver, operator, reward, attestor, slot, unix, driver_token,
         operator_token) = _SESSION.unpack_from(data)  # fmt: skip
        if kind != KIND_SESSION or version != LAYOUT_VERSION:
            raise AccountLayoutError(f"not a session (kind {kind}, version {version})")
        return cls(
            session_id=session_id,
            charger_id=charger_id,
            energy_wh=energy_wh,
            start_unix=start,
            stop_unix=stop,
            meter_digest=digest,
            reward_class=RewardClass(reward_class),
            amounts=MintAmounts(driver, operator, reward),
            attestor=Pubkey.from_bytes(attestor),
            recorded_slot=slot,
            recorded_unix=unix,
            driver_token=Pubkey.from_bytes(driver_token),
            operator_token=Pubkey.from_bytes(operator_token),
            bump=bump,
        )
