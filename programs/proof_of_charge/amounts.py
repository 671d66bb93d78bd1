"""How much EVCH a recorded session mints: the program's arithmetic, as pure Python.

Amounts are raw units (decimals 6: 1 raw = 1 mWh at the default rate). The program computes
them from the session's energy and its config, never from the caller; :func:`mint_amounts` is the
same computation, so the ledger gateway, the twin's tokenomics and the tests can predict a mint to
the raw unit:

    base     = energy_wh * mint_rate_raw_per_kwh // 1000
    driver   = base * driver_bps // 10000
    operator = base * operator_bps // 10000
    reward   = base * (off_peak_multiplier_bps - 10000) // 10000     (reward class OFF_PEAK)
             + base * (renewable_multiplier_bps - 10000) // 10000    (reward class RENEWABLE)

The driver's token account receives driver + reward, the operator's operator. Every product and
sum must fit in a u64 or the program refuses the session (ArithmeticOverflow).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag

from programs.spl.evch_mint import EVCH_DECIMALS, RAW_PER_KWH

BPS_ONE = 10_000  # basis points of a whole (x1)
WH_PER_KWH = 1_000
RAW_PER_EVCH = 10**EVCH_DECIMALS
DEFAULT_MINT_RATE_RAW_PER_KWH = RAW_PER_KWH  # 1 EVCH per kWh: 1 raw = 1 mWh
TOTAL_SUPPLY_RAW = 1_000_000_000 * RAW_PER_EVCH  # the seed's 1B EVCH allocation
REWARDS_POOL_BPS = 4_000  # "User & Charging Rewards": 40 % of the 1B
REWARDS_POOL_RAW = TOTAL_SUPPLY_RAW * REWARDS_POOL_BPS // BPS_ONE
U64_MAX = 2**64 - 1
U16_MAX = 2**16 - 1
U32_MAX = 2**32 - 1


class RewardClass(IntFlag):
    """The session's reward class bits (RecordCharge's last byte)."""

    NONE = 0
    OFF_PEAK = 1
    RENEWABLE = 2


@dataclass(frozen=True)
class Rates:
    """The config's minting parameters (Initialize and UpdateRates).

    The default split gives drivers and operators the 2:1 ratio of the seed's allocation
    (40 % user rewards, 20 % operators) of each session's energy-backed base, so the base
    amounts never exceed 1 EVCH per verified kWh; off-peak adds 10 %, renewable 20 %, from the
    rewards pool of 400M EVCH.
    """

    mint_rate_raw_per_kwh: int = DEFAULT_MINT_RATE_RAW_PER_KWH
    driver_bps: int = 6_667
    operator_bps: int = 3_333
    off_peak_multiplier_bps: int = 11_000
    renewable_multiplier_bps: int = 12_000
    rewards_cap_raw: int = REWARDS_POOL_RAW

    def __post_init__(self) -> None:
        if not 0 < self.mint_rate_raw_per_kwh <= U64_MAX:
            raise ValueError(f"mint rate must be 1..2^64-1 raw/kWh: {self.mint_rate_raw_per_kwh}")
        if not (0 <= self.driver_bps <= U16_MAX and 0 <= self.operator_bps <= U16_MAX):
            raise ValueError("shares are u16 basis points")
        if self.driver_bps + self.operator_bps > BPS_ONE:
            raise ValueError(
                f"driver + operator shares exceed 10000 bps: {self.driver_bps}+{self.operator_bps}"
            )
        for name in ("off_peak_multiplier_bps", "renewable_multiplier_bps"):
            if not BPS_ONE <= getattr(self, name) <= U32_MAX:
                raise ValueError(f"{name} must be 10000 (x1) .. 2^32-1: {getattr(self, name)}")
        if not 0 <= self.rewards_cap_raw <= U64_MAX:
            raise ValueError(f"rewards cap must fit a u64: {self.rewards_cap_raw}")

    LAYOUT = struct.Struct("<QHHIIQ")

    @classmethod
    def decode(cls, data: bytes) -> Rates:
        """The rates field of a recorded Initialize or UpdateRates (after the tag)."""
        return cls(*cls.LAYOUT.unpack(bytes(data[: cls.LAYOUT.size])))

    def encode(self) -> bytes:
        """The 28-byte rates field of Initialize and UpdateRates."""
        return self.LAYOUT.pack(
            self.mint_rate_raw_per_kwh,
            self.driver_bps,
            self.operator_bps,
            self.off_peak_multiplier_bps,
            self.renewable_multiplier_bps,
            self.rewards_cap_raw,
        )


@dataclass(frozen=True)
class MintAmounts:
    """What one session mints, raw units; RecordCharge's return data (3 x u64)."""

    driver_raw: int  # the driver's share of the base
    operator_raw: int
    reward_raw: int  # off-peak/renewable reward, to the driver as well

    RETURN_DATA = struct.Struct("<QQQ")

    @property
    def driver_total_raw(self) -> int:
        """What the driver's token account receives."""
        return self.driver_raw + self.reward_raw

    @property
    def total_raw(self) -> int:
        return self.driver_raw + self.operator_raw + self.reward_raw

    @classmethod
    def from_return_data(cls, data: bytes) -> MintAmounts:
        return cls(*cls.RETURN_DATA.unpack(bytes(data)))


def _checked(value: int) -> int:
    if value > U64_MAX:
        raise OverflowError("the program refuses this session: ArithmeticOverflow")
    return value


def mint_amounts(rates: Rates, energy_wh: int, reward_class: int = RewardClass.NONE) -> MintAmounts:
    """The amounts the program mints for a session of ``energy_wh`` under ``rates``.

    Raises OverflowError where the program fails with ArithmeticOverflow. (The rewards cap is a
    cumulative check against the config's counters; see :func:`would_exceed_cap`.)
    """
    if not 0 <= energy_wh <= U64_MAX:
        raise ValueError(f"energy_wh must be a u64: {energy_wh}")
    reward_class = RewardClass(reward_class)
    base = _checked(energy_wh * rates.mint_rate_raw_per_kwh) // WH_PER_KWH
    driver = _checked(base * rates.driver_bps) // BPS_ONE
    operator = _checked(base * rates.operator_bps) // BPS_ONE
    reward = 0
    if reward_class & RewardClass.OFF_PEAK:
        extra = _checked(base * (rates.off_peak_multiplier_bps - BPS_ONE)) // BPS_ONE
        reward = _checked(reward + extra)
    if reward_class & RewardClass.RENEWABLE:
        extra = _checked(base * (rates.renewable_multiplier_bps - BPS_ONE)) // BPS_ONE
        reward = _checked(reward + extra)
    _checked(driver + reward)
    return MintAmounts(driver, operator, reward)


def would_exceed_cap(rates: Rates, rewards_minted_raw: int, amounts: MintAmounts) -> bool:
    """True when recording ``amounts`` after ``rewards_minted_raw`` fails with OverCap."""
    return rewards_minted_raw + amounts.reward_raw > rates.rewards_cap_raw
