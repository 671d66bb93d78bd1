"""The parameters of the EVCH tokenomics model (the seed's section 6), validated by pydantic.

Every number an analyst may tune is a field here, with its unit in its name. The defaults are
the seed's: a 1B EVCH cap split 40 % user and charging rewards, 20 % infrastructure operators,
15 % R&D, 10 % marketing, 10 % liquidity and reserves, 5 % team over 24 months; 1 EVCH per kWh
minted out of the rewards pools, with off-peak and renewable multipliers; burns on redemption;
staking tiers that discount the charging price; an EVCH/USDC constant-product pool; a peg to the
average kWh price.

Fields are addressed by dotted paths (``"minting.off_peak_multiplier"``,
``"allocations.team.cliff_months"``), which is how sweeps and the tuner name them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Share = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]

DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_YEAR = 365
# Allocations minted by energy (Proof-of-Charge): drivers' share and rewards come out of the
# first, operators' share out of the second. Their schedule caps what is mintable by a date.
REWARDS = "user_rewards"
OPERATORS = "operators"
LIQUIDITY = "liquidity"  # seeds the EVCH/USDC pool at launch; the rest is the treasury's reserve


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Allocation(_Params):
    """One slice of the cap and when it unlocks: ``tge_share`` at launch, the rest linearly
    over ``vesting_months`` from launch, nothing of it before ``cliff_months``."""

    share: Share
    tge_share: Share = 0.0
    cliff_months: NonNegative = 0.0
    vesting_months: NonNegative = 0.0
    # Of what unlocks to its holders, the share they sell into the pool at once.
    sell_share: Share = 0.0

    @model_validator(mode="after")
    def _cliff_within_vesting(self) -> Allocation:
        if self.vesting_months and self.cliff_months > self.vesting_months:
            raise ValueError(
                f"cliff_months ({self.cliff_months}) is after the end of vesting_months "
                f"({self.vesting_months})"
            )
        return self


def _default_allocations() -> dict[str, Allocation]:
    return {
        REWARDS: Allocation(share=0.40, tge_share=1.0),
        OPERATORS: Allocation(share=0.20, tge_share=1.0),
        "rnd": Allocation(share=0.15, tge_share=0.10, vesting_months=36, sell_share=0.02),
        "marketing": Allocation(share=0.10, tge_share=0.20, vesting_months=24, sell_share=0.05),
        LIQUIDITY: Allocation(share=0.10, tge_share=1.0),
        "team": Allocation(share=0.05, cliff_months=6, vesting_months=24, sell_share=0.05),
    }


class Demand(_Params):
    """Charging demand; calibrated from run directories (:mod:`twin.tokenomics.calibrate`)."""

    stations: Annotated[float, Field(gt=0)] = 10.0
    sessions_per_station_day: NonNegative = 4.2
    energy_per_session_kwh: NonNegative = 12.0
    off_peak_share: Share = 0.1  # of the energy, charged in the day's cheapest band
    renewable_share: Share = 0.0  # of the energy, covered by on-site PV
    kwh_price_usd: Annotated[float, Field(gt=0)] = 0.12  # the average price drivers pay
    # Adoption: yearly growth of stations and of sessions per station, and its spread across
    # Monte Carlo paths (each path draws its own rates).
    station_growth_per_year: Annotated[float, Field(ge=-1)] = 0.5
    station_growth_sd: NonNegative = 0.2
    usage_growth_per_year: Annotated[float, Field(ge=-1)] = 0.05
    usage_growth_sd: NonNegative = 0.05
    daily_noise_sd: NonNegative = 0.2  # log-normal day-to-day variation of sessions


class Minting(_Params):
    """Proof-of-Charge minting (the on-chain Rates): the base per kWh is split between driver
    and operator; off-peak and renewable energy earn the driver an extra out of the rewards."""

    evch_per_kwh: Annotated[float, Field(gt=0)] = 1.0
    driver_share: Share = 0.6667
    operator_share: Share = 0.3333
    off_peak_multiplier: Annotated[float, Field(ge=1)] = 1.1
    renewable_multiplier: Annotated[float, Field(ge=1)] = 1.2

    @model_validator(mode="after")
    def _shares_fit(self) -> Minting:
        if self.driver_share + self.operator_share > 1 + 1e-9:
            raise ValueError("driver_share + operator_share exceed 1")
        return self


class Usage(_Params):
    """What holders do with their EVCH each day."""

    redemption_rate_per_day: Share = 0.01  # of drivers' liquid EVCH, redeemed and burned
    payment_share: Share = 0.05  # of sessions paid in EVCH (from the driver's balance)
    operator_sell_rate_per_day: Share = 0.05  # of operators' EVCH, sold into the pool


class StakingTier(_Params):
    lock_days: Annotated[int, Field(ge=1)]
    fee_discount: Share  # off the charging price (the fee per session), as the CSMS bills it
    stake_share: Share  # of newly staked EVCH, into this tier
    # The least a stake must hold to earn the tier on chain (exported to the token service;
    # the model follows stakes in aggregate, not staker by staker).
    min_stake_evch: NonNegative = 0.0


def _default_tiers() -> tuple[StakingTier, ...]:
    # The on-chain defaults (central_system/tokens/bootstrap.py DEFAULT_TIERS): 5/10/20 % off.
    return (
        StakingTier(lock_days=30, fee_discount=0.05, stake_share=0.5, min_stake_evch=100),
        StakingTier(lock_days=90, fee_discount=0.10, stake_share=0.3, min_stake_evch=1_000),
        StakingTier(lock_days=365, fee_discount=0.20, stake_share=0.2, min_stake_evch=10_000),
    )


class Staking(_Params):
    stake_rate_per_day: Share = 0.005  # of drivers' liquid EVCH, newly staked
    restake_share: Share = 0.5  # of a matured stake, locked again in the same tier
    tiers: tuple[StakingTier, ...] = Field(default_factory=_default_tiers)

    @model_validator(mode="after")
    def _tier_shares_sum_to_one(self) -> Staking:
        total = sum(tier.stake_share for tier in self.tiers)
        if self.tiers and abs(total - 1) > 1e-6:
            raise ValueError(f"the tiers' stake_share must sum to 1, not {total:g}")
        return self


class Market(_Params):
    """The EVCH/USDC constant-product pool (x * y = k) and the traders around it."""

    pool_seed_evch: Annotated[float, Field(gt=0)] = 50_000_000.0  # out of the liquidity allocation
    pool_seed_usdc: Annotated[float, Field(gt=0)] = 6_000_000.0  # launch price = usdc / evch
    swap_fee: Annotated[float, Field(ge=0, lt=1)] = 0.003
    transfer_fee: Annotated[float, Field(ge=0, lt=1)] = 0.005  # the platform fee (Token-2022)
    # Traders' daily net buying, normally distributed, as a share of the pool's USDC depth.
    trader_flow_sd: NonNegative = 0.01


class Peg(_Params):
    """The treasury keeps the pool price within ``band`` of the average kWh price (1 EVCH ~
    1 kWh): it sells reserve EVCH above the band and buys EVCH with its USDC below it."""

    enabled: bool = True
    band: Share = 0.05
    treasury_usdc: NonNegative = 5_000_000.0  # its USDC at launch


class Simulation(_Params):
    years: Annotated[float, Field(gt=0, le=50)] = 10.0
    paths: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    seed: int = 7
    start: str = "2026-01-01"  # launch (TGE), an ISO date

    @property
    def days(self) -> int:
        return round(self.years * DAYS_PER_YEAR)


class TokenomicsParams(_Params):
    cap_evch: Annotated[float, Field(gt=0)] = 1_000_000_000.0
    allocations: dict[str, Allocation] = Field(default_factory=_default_allocations)
    demand: Demand = Field(default_factory=Demand)
    minting: Minting = Field(default_factory=Minting)
    usage: Usage = Field(default_factory=Usage)
    staking: Staking = Field(default_factory=Staking)
    market: Market = Field(default_factory=Market)
    peg: Peg = Field(default_factory=Peg)
    simulation: Simulation = Field(default_factory=Simulation)

    @model_validator(mode="after")
    def _allocations_complete(self) -> TokenomicsParams:
        missing = {REWARDS, OPERATORS, LIQUIDITY} - set(self.allocations)
        if missing:
            raise ValueError(f"allocations lack {', '.join(sorted(missing))}")
        total = sum(allocation.share for allocation in self.allocations.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"the allocations' shares must sum to 1, not {total:g}")
        liquidity = self.allocations[LIQUIDITY]
        at_launch_evch = liquidity.share * liquidity.tge_share * self.cap_evch
        if self.market.pool_seed_evch > at_launch_evch * (1 + 1e-12):
            raise ValueError(
                f"market.pool_seed_evch ({self.market.pool_seed_evch:,.0f}) exceeds what the "
                f"liquidity allocation unlocks at launch ({at_launch_evch:,.0f} EVCH)"
            )
        return self

    def get(self, path: str) -> Any:
        """The value at a dotted path, e.g. ``params.get("peg.band")``."""
        node: Any = self
        for key in path.split("."):
            if isinstance(node, dict):
                node = node[key]
            elif isinstance(node, tuple):
                node = node[int(key)]
            else:
                node = getattr(node, key)
        return node

    def replace(self, changes: dict[str, Any]) -> TokenomicsParams:
        """A validated copy with the values at the given dotted paths changed."""
        data = self.model_dump(mode="json")  # lists, not tuples: assignable
        for path, value in changes.items():
            *parents, last = path.split(".")
            node = data
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node[key]
            if isinstance(node, list):
                last = int(last)  # type: ignore[assignment]
            elif last not in node:
                raise KeyError(f"no parameter {path!r}")
            node[last] = value
        return TokenomicsParams.model_validate(data)
