"""The tokenomics model, vectorised: every Monte Carlo path of every parameter set at once.

State arrays have the shape (points, paths): one row per parameter set (a sweep's grid point
or an A/B pair), one column per Monte Carlo path. A parameter that is the same for every point
is a Python float; one that differs is a (points, 1) column, so numpy broadcasts both. The
loop runs over days only. Every point sees the same random draws (common random numbers), so
differences between points come from their parameters, not from luck.

One day, in order:

1. demand: sessions = stations x sessions per station (each path grows at its own drawn rates,
   with log-normal daily noise), energy = sessions x energy per session;
2. minting: the base (EVCH per kWh) split driver/operator, plus the off-peak and renewable
   extras, minted out of the rewards and operators allocations as far as their unlocked,
   unminted remainder allows (the date the rewards pool runs dry is when it no longer does);
3. vesting: allocations unlock by their schedules; holders sell ``sell_share`` of it;
   the liquidity allocation goes to the treasury (the pool's seed came out of it at launch);
4. staking: drivers lock a share of their liquid EVCH in tiers; matured stakes are partly
   locked again, the rest returns;
5. redemption: drivers redeem a share of their liquid EVCH for services: it is burned;
6. payments: a share of sessions is paid in EVCH at the pool price, less the stakers' tier
   discount on the charging price; payers short of EVCH buy the rest in the pool (step 7);
   operators receive it less the platform fee, which goes to the treasury;
7. market: operators' and vested holders' sells, traders' net flow and payers' buys swap
   through the constant-product pool with its fee (price impact follows from x * y = k);
8. peg: outside the band around the kWh price, the treasury trades the pool back to the band's
   edge (selling reserve EVCH above it, buying EVCH with USDC below it) as far as its reserves go.

Amounts are EVCH and USDC as floats: this is an economic model, not a ledger (the ledger's raw
integer arithmetic lives in programs/proof_of_charge/amounts.py).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from twin.tokenomics.params import DAYS_PER_YEAR, Simulation, TokenomicsParams
from twin.tokenomics.results import STORED, SimulationResult
from twin.tokenomics.schedules import Schedules

Column = float | np.ndarray  # a scalar, or one value per point as a (points, 1) column


class ModelError(ValueError):
    """Parameter sets that cannot run side by side (other allocations, tiers or horizon)."""


def simulate(
    params: TokenomicsParams | Sequence[TokenomicsParams],
    *,
    on_day: Callable[[int], None] | None = None,
    draws: Shocks | None = None,
) -> SimulationResult:
    """Run the model: ``simulation.paths`` Monte Carlo paths of ``simulation.years`` daily
    steps for each parameter set (the first set's simulation section applies to all).
    ``draws``: the run's :func:`shocks`, when the caller has them already (a sweep's batches)."""
    points = [params] if isinstance(params, TokenomicsParams) else list(params)
    if not points:
        raise ModelError("no parameter set to simulate")
    _check_alike(points)
    run = points[0].simulation
    days, paths = run.days, run.paths
    col = _Columns(points)
    shape = (len(points), paths)

    # Per-path adoption rates, then the daily shocks: drawn once, shared by every point.
    draws = draws or shocks(run)

    # 1. demand, all days at once: it does not depend on the token's state
    growth = (
        _log_growth(
            col("demand.station_growth_per_year"), col("demand.station_growth_sd"), draws.station_z
        )
        + _log_growth(
            col("demand.usage_growth_per_year"), col("demand.usage_growth_sd"), draws.usage_z
        )
    ) / DAYS_PER_YEAR  # per day, (points, paths)
    block = _populated((len(STORED), days, *shape))
    stored = dict(zip(STORED, block, strict=True))
    sessions = _sessions(
        stored["sessions"],
        col("demand.stations") * col("demand.sessions_per_station_day"),
        growth,
        col("demand.daily_noise_sd"),
        draws.demand_z,
    )
    energy_per_session = col("demand.energy_per_session_kwh")
    kwh_price = col("demand.kwh_price_usd")

    evch_per_kwh = col("minting.evch_per_kwh")
    user_per_kwh = evch_per_kwh * (
        col("minting.driver_share")
        + col("demand.off_peak_share") * (col("minting.off_peak_multiplier") - 1)
        + col("demand.renewable_share") * (col("minting.renewable_multiplier") - 1)
    )
    operator_per_kwh = evch_per_kwh * col("minting.operator_share")
    # what the sessions paid in EVCH owe per kWh, in USD, before stakers' discounts
    payment_usd_per_kwh = col("usage.payment_share") * kwh_price

    schedule = Schedules(points, days)
    redemption = col("usage.redemption_rate_per_day")
    operator_sell = col("usage.operator_sell_rate_per_day")
    stake_rate = col("staking.stake_rate_per_day")
    restake = col("staking.restake_share")
    stakes = _Stakes(points, shape)
    swap_keep = 1 - col("market.swap_fee")
    transfer_fee = col("market.transfer_fee")
    trader_sd = col("market.trader_flow_sd")
    peg_on = col("peg.enabled")
    peg_price = kwh_price / evch_per_kwh  # 1 EVCH ~ 1 kWh at the default rate
    upper = peg_price * (1 + col("peg.band"))
    lower = peg_price * (1 - col("peg.band"))

    def state(value: Column = 0.0) -> np.ndarray:
        return np.zeros(shape) + value

    drivers, operators, others = state(), state(), state()  # others: vested holders, traders
    rewards_minted, operators_minted = state(), state()
    burned, fees = state(), state()
    pool_evch = state(col("market.pool_seed_evch"))
    pool_usdc = state(col("market.pool_seed_usdc"))
    # The pool's seed came out of the liquidity allocation; its release lands in the treasury.
    treasury_evch = state(-col("market.pool_seed_evch"))
    treasury_usdc = state(col("peg.treasury_usdc"))

    for day in range(days):
        # 2. minting, capped by what the energy allocations have unlocked and not minted yet
        kwh = np.multiply(sessions[day], energy_per_session, dtype=float)
        user = np.minimum(
            kwh * user_per_kwh, np.maximum(schedule.rewards_cap[day] - rewards_minted, 0)
        )
        operator = np.minimum(
            kwh * operator_per_kwh, np.maximum(schedule.operators_cap[day] - operators_minted, 0)
        )
        rewards_minted += user
        operators_minted += operator
        drivers += user
        operators += operator

        # 3. vesting: liquidity to the treasury, the rest to its holders
        treasury_evch += schedule.liquidity[day]
        others += schedule.to_holders[day]

        # 4. staking: lock new stakes, release (and partly re-lock) matured ones
        newly_staked = stake_rate * drivers
        matured = stakes.mature(day)
        relocked = matured * restake
        stakes.lock(day, newly_staked * stakes.share + relocked)
        drivers += matured.sum(axis=0) - newly_staked - relocked.sum(axis=0)
        staked = stakes.staked.sum(axis=0)
        discounted = (stakes.fee_discount * stakes.staked).sum(axis=0)

        # 5. redemption burns
        redeemed = redemption * drivers
        drivers -= redeemed
        burned += redeemed

        # 6. payments in EVCH at the pool price, less the stakers' tier discount (off the
        # charging price as the CSMS bills it, weighted by the share of EVCH staked); payers
        # short of EVCH buy the rest in the pool (step 7)
        discount = discounted / np.maximum(staked + drivers, 1e-9)
        owed_usd = kwh * payment_usd_per_kwh * (1 - discount)
        from_balance = np.minimum(owed_usd * (pool_evch / pool_usdc), drivers)
        drivers -= from_balance
        short_usd = np.maximum(owed_usd - from_balance * (pool_usdc / pool_evch), 0)

        # 7. market: traders' net flow (> 0 buys EVCH, < 0 sells what traders and holders
        # have), operators' and holders' sells, payers' buys: one swap each way
        flow = (trader_sd * draws.trader_z[day]) * pool_usdc
        held_sold = schedule.sold[day]
        others -= held_sold
        trader_sold = np.minimum(np.maximum(-flow, 0) * (pool_evch / pool_usdc), others)
        sold = operator_sell * operators
        operators -= sold
        pool_evch, pool_usdc, _ = _sell_evch(
            pool_evch, pool_usdc, sold + held_sold + trader_sold, swap_keep
        )
        buys_usd = np.maximum(flow, 0) + short_usd
        pool_evch, pool_usdc, bought = _buy_evch(pool_evch, pool_usdc, buys_usd, swap_keep)
        bought_to_pay = bought * (short_usd / np.maximum(buys_usd, 1e-12))
        others += bought - bought_to_pay - trader_sold
        paid = from_balance + bought_to_pay  # to the operators, less the platform fee
        fee = paid * transfer_fee
        operators += paid - fee
        treasury_evch += fee
        fees += fee

        # 8. peg: back to the band's edge, as far as the treasury's reserves go
        k = pool_evch * pool_usdc
        evch_in = np.minimum(
            np.maximum(np.sqrt(k / upper) - pool_evch, 0) / swap_keep, np.maximum(treasury_evch, 0)
        )
        usdc_in = np.minimum(
            np.maximum(np.sqrt(k * lower) - pool_usdc, 0) / swap_keep, treasury_usdc
        )
        if np.isscalar(peg_on):
            if not peg_on:
                evch_in, usdc_in = 0.0, 0.0
        else:
            evch_in, usdc_in = evch_in * peg_on, usdc_in * peg_on
        pool_evch, pool_usdc, usdc_out = _sell_evch(pool_evch, pool_usdc, evch_in, swap_keep)
        pool_evch, pool_usdc, evch_out = _buy_evch(pool_evch, pool_usdc, usdc_in, swap_keep)
        treasury_evch += evch_out - evch_in
        treasury_usdc += usdc_out - usdc_in

        stored["circulating_evch"][day] = drivers + operators + others
        stored["rewards_minted_evch"][day] = rewards_minted
        stored["operators_minted_evch"][day] = operators_minted
        stored["burned_evch"][day] = burned
        stored["staked_evch"][day] = staked
        stored["fees_evch"][day] = fees
        stored["treasury_evch"][day] = treasury_evch
        stored["treasury_usdc"][day] = treasury_usdc
        stored["pool_evch"][day] = pool_evch
        stored["pool_usdc"][day] = pool_usdc
        if on_day is not None:
            on_day(day)

    return SimulationResult(points=points, stored=stored, schedule=schedule)


@dataclass(frozen=True)
class Shocks:
    """The model's random draws (standard normal): per path, its adoption rates; per day and
    path, the demand noise and the traders' net flow."""

    station_z: np.ndarray  # (paths,)
    usage_z: np.ndarray  # (paths,)
    demand_z: np.ndarray  # (days, 1, paths), float32
    trader_z: np.ndarray  # (days, paths), float32


def shocks(run: Simulation) -> Shocks:
    """The draws of a run: the same seed gives the same draws whatever the other parameters
    (the number of paths and the horizon shape them, so path i of 20 is not path i of 1,000)."""
    rng = np.random.default_rng(run.seed)
    return Shocks(
        station_z=rng.standard_normal(run.paths),
        usage_z=rng.standard_normal(run.paths),
        demand_z=rng.standard_normal((run.days, 1, run.paths), dtype=np.float32),
        trader_z=rng.standard_normal((run.days, run.paths), dtype=np.float32),
    )


def _populated(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array for every stored metric, its memory mapped in at once (Linux's
    MAP_POPULATE): page by page, the first touch of 150 MB costs a cold run about 0.3 s."""
    size = int(np.prod(shape)) * np.dtype(np.float32).itemsize
    populate = getattr(mmap, "MAP_POPULATE", None)
    if populate is None:
        return np.empty(shape, dtype=np.float32)
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate)
    return np.frombuffer(memory, dtype=np.float32).reshape(shape)


def _sessions(
    out: np.ndarray, day0: Column, growth: np.ndarray, noise_sd: Column, z: np.ndarray
) -> np.ndarray:
    """Sessions per day, point and path, computed in place in ``out`` (float32: the largest
    arrays of a run are written once, without float64 temporaries)."""
    np.multiply(np.arange(out.shape[0], dtype=np.float32).reshape(-1, 1, 1), growth, out=out)
    out += np.asarray(noise_sd, dtype=np.float32) * z - np.float32(np.square(noise_sd) / 2)
    np.exp(out, out=out)
    out *= np.asarray(day0, dtype=np.float32)
    return out


def _log_growth(rate: Column, sd: Column, z: np.ndarray) -> np.ndarray:
    """log(1 + rate) per path, the rate drawn around ``rate`` (never below -99 %)."""
    return np.log1p(np.maximum(rate + sd * z, -0.99))


def _sell_evch(x: np.ndarray, y: np.ndarray, evch_in: np.ndarray, keep: Column):
    """Swap ``evch_in`` into the pool (x EVCH, y USDC): the fee stays in the pool."""
    effective = evch_in * keep
    usdc_out = y * effective / (x + effective)
    return x + evch_in, y - usdc_out, usdc_out


def _buy_evch(x: np.ndarray, y: np.ndarray, usdc_in: np.ndarray, keep: Column):
    effective = usdc_in * keep
    evch_out = x * effective / (y + effective)
    return x - evch_out, y + usdc_in, evch_out


class _Columns:
    """Parameter values by dotted path: a float when every point agrees, else a column."""

    def __init__(self, points: Sequence[TokenomicsParams]) -> None:
        self.points = points

    def __call__(self, path: str) -> Column:
        values = [float(point.get(path)) for point in self.points]
        if all(value == values[0] for value in values):
            return values[0]
        return np.array(values).reshape(-1, 1)


class _Stakes:
    """Locked EVCH by tier, (tiers, points, paths), and a ring buffer of what matures each day."""

    def __init__(self, points: Sequence[TokenomicsParams], shape: tuple[int, int]) -> None:
        def by_tier(field: str) -> np.ndarray:  # (tiers, points, 1)
            values = [[getattr(t, field) for t in p.staking.tiers] for p in points]
            return np.array(values, dtype=float).T.reshape(-1, len(points), 1)

        self.fee_discount = by_tier("fee_discount")
        self.share = by_tier("stake_share")
        self._lock_days = by_tier("lock_days")[:, :, 0].astype(int)  # (tiers, points)
        tiers = len(self._lock_days)
        self._ring = np.zeros((int(self._lock_days.max(initial=0)) + 1, tiers, *shape))
        self._tier_index = np.arange(tiers).reshape(-1, 1)
        self._point_index = np.arange(shape[0]).reshape(1, -1)
        self.staked = np.zeros((tiers, *shape))

    def mature(self, day: int) -> np.ndarray:
        """Take out what matures today."""
        slot = self._ring[day % len(self._ring)]
        matured = slot.copy()
        slot.fill(0)
        self.staked -= matured
        return matured

    def lock(self, day: int, amount: np.ndarray) -> None:
        """Lock ``amount`` (tiers, points, paths) until each tier's lock ends."""
        slots = (day + self._lock_days) % len(self._ring)
        self._ring[slots, self._tier_index, self._point_index] += amount
        self.staked += amount


def _check_alike(points: Sequence[TokenomicsParams]) -> None:
    first = points[0]
    for i, point in enumerate(points[1:], start=2):
        if list(point.allocations) != list(first.allocations):
            raise ModelError(f"parameter set {i} has other allocations than the first")
        if len(point.staking.tiers) != len(first.staking.tiers):
            raise ModelError(f"parameter set {i} has another number of staking tiers")
        if point.simulation != first.simulation:
            raise ModelError(f"parameter set {i} has another [simulation] section than the first")
