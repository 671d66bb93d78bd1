"""The tokenomics model: the seed's allocations, the arithmetic of each mechanism against hand
computation, determinism, sweeps and A/B pairs against single runs, calibration against a real
run directory, and the parameters file against the token service's loader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from central_system.tokens.settings_file import load_token_settings
from programs.proof_of_charge import RewardClass
from twin.replay.reconcile import RunDirError, read_manifest, run_ledger
from twin.tokenomics import ModelError, TokenomicsParams, simulate
from twin.tokenomics.calibrate import calibrate
from twin.tokenomics.engine import _buy_evch, _sell_evch, shocks
from twin.tokenomics.params import DAYS_PER_MONTH, Allocation
from twin.tokenomics.params_file import ParamsFileError, dump_params, load_params
from twin.tokenomics.results import key_figures, quantiles
from twin.tokenomics.schedules import unlocked_fraction
from twin.tokenomics.sweep import grid_points, sweep

SMALL = {"simulation.paths": 64, "simulation.years": 2.0}
# No randomness, no growth, no market: every day is the same, so amounts can be worked by hand.
STEADY = SMALL | {
    "demand.daily_noise_sd": 0.0,
    "demand.station_growth_per_year": 0.0,
    "demand.station_growth_sd": 0.0,
    "demand.usage_growth_per_year": 0.0,
    "demand.usage_growth_sd": 0.0,
    "market.trader_flow_sd": 0.0,
}


def small(**changes) -> TokenomicsParams:
    return TokenomicsParams().replace(SMALL | {k.replace("__", "."): v for k, v in changes.items()})


def steady(changes: dict | None = None) -> TokenomicsParams:
    return TokenomicsParams().replace(STEADY | (changes or {}))


def test_the_defaults_are_the_seeds_allocation():
    params = TokenomicsParams()
    assert params.cap_evch == 1_000_000_000
    shares = {name: a.share for name, a in params.allocations.items()}
    assert shares == {
        "user_rewards": 0.40,
        "operators": 0.20,
        "rnd": 0.15,
        "marketing": 0.10,
        "liquidity": 0.10,
        "team": 0.05,
    }
    assert params.allocations["team"].vesting_months == 24
    assert params.minting.evch_per_kwh == 1.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"allocations.team.share": 0.06}, "sum to 1"),
        ({"allocations.team.cliff_months": 30}, "cliff_months"),
        ({"minting.driver_share": 0.8}, "exceed 1"),
        ({"staking.tiers.0.stake_share": 0.9}, "stake_share"),
        ({"market.pool_seed_evch": 200_000_000}, "liquidity allocation"),
        ({"peg.band": 1.5}, "less than or equal to 1"),
    ],
)
def test_inconsistent_parameters_are_refused_naming_them(changes, message):
    with pytest.raises(ValidationError, match=message):
        TokenomicsParams().replace(changes)


def test_an_unknown_parameter_is_named():
    with pytest.raises(KeyError, match=r"demand\.nope"):
        TokenomicsParams().replace({"demand.nope": 1})


def test_vesting_follows_tge_cliff_and_linear_schedule():
    team = Allocation(share=0.05, tge_share=0.1, cliff_months=6, vesting_months=24)
    day = np.array([0, 6 * DAYS_PER_MONTH - 1, 6 * DAYS_PER_MONTH, 12 * DAYS_PER_MONTH, 900])
    unlocked = unlocked_fraction([team], day.reshape(-1, 1, 1))[:, 0, 0]
    assert unlocked == pytest.approx([0.1, 0.1, 0.1 + 0.9 * 6 / 24, 0.1 + 0.9 * 12 / 24, 1.0])


def test_vested_supply_matches_the_schedules_of_every_allocation():
    params = small(simulation__years=3.1)
    result = simulate(params)
    vested = result.path("vested_evch")[:, 0]
    cap = params.cap_evch
    # At launch: 10 % of R&D and 20 % of marketing; the team's cliff is at 6 months.
    assert vested[0] == pytest.approx(cap * (0.15 * 0.10 + 0.10 * 0.20), rel=1e-6)
    # After 36 months every vesting allocation (R&D, marketing, team) is out.
    assert vested[-1] == pytest.approx(cap * 0.30, rel=1e-6)


def test_energy_mints_the_rates_and_the_rewards_pool_runs_dry_on_the_day_it_must():
    params = steady(
        {
            "simulation.years": 4.0,
            "cap_evch": 1_000_000,
            "market.pool_seed_evch": 50_000,
            "market.pool_seed_usdc": 6_000,
            "peg.treasury_usdc": 1_000,
            "demand.off_peak_share": 0.5,
            "demand.renewable_share": 0.25,
        }
    )
    result = simulate(params)
    demand, minting = params.demand, params.minting
    kwh_per_day = demand.stations * demand.sessions_per_station_day * demand.energy_per_session_kwh
    user_per_day = kwh_per_day * (
        minting.driver_share
        + demand.off_peak_share * (minting.off_peak_multiplier - 1)
        + demand.renewable_share * (minting.renewable_multiplier - 1)
    )
    operator_per_day = kwh_per_day * minting.operator_share
    minted = result.path("minted_evch")[:, 0]
    assert minted[0] == pytest.approx(user_per_day + operator_per_day, rel=1e-6)
    pool = 0.40 * params.cap_evch
    dry_day = math.ceil(pool / user_per_day) - 1
    assert np.all(result.dry_days() == dry_day)
    assert result.path("rewards_left_evch")[dry_day - 1, 0] > 0
    assert result.path("rewards_left_evch")[-1, 0] == pytest.approx(0, abs=1e-3)
    assert result.dry_date() == result.dates[dry_day].date()
    # Once dry, drivers mint nothing; operators go on out of their own allocation.
    after = np.diff(minted[dry_day + 1 : dry_day + 100])
    assert after == pytest.approx(np.full_like(after, operator_per_day), rel=1e-3)


def test_a_horizon_the_pool_outlasts_has_no_dry_date():
    result = simulate(small())
    assert np.isnan(result.dry_days()).all()
    assert result.dry_date() is None


def test_redemptions_burn_and_lower_the_supply_by_what_they_burn():
    without = simulate(small(usage__redemption_rate_per_day=0.0))
    burning = simulate(small(usage__redemption_rate_per_day=0.02))
    assert without.path("burned_evch").max() == 0
    burned = burning.path("burned_evch")
    assert (np.diff(burned, axis=0) >= 0).all() and burned[-1].min() > 0
    minted_delta = burning.path("minted_evch") - without.path("minted_evch")
    supply_delta = burning.path("supply_evch") - without.path("supply_evch")
    assert supply_delta == pytest.approx(minted_delta - burned, rel=1e-4, abs=50)


def test_supply_is_accounted_for_in_every_place_it_can_be():
    result = simulate(small())
    parts = sum(
        result.path(name)
        for name in ("circulating_evch", "staked_evch", "treasury_evch", "pool_evch")
    )
    assert parts == pytest.approx(result.path("supply_evch"), rel=1e-5)
    assert (result.path("circulating_evch") >= -1).all()
    assert (result.path("treasury_usdc") >= -1e-3).all()


def test_a_swap_keeps_the_constant_product_and_its_fee_in_the_pool():
    x, y = np.array([1_000.0]), np.array([100.0])
    x2, y2, usdc_out = _sell_evch(x, y, np.array([100.0]), keep=0.997)
    assert usdc_out[0] == pytest.approx(100 * 99.7 / 1_099.7)
    assert x2[0] * y2[0] > x[0] * y[0]  # the fee stays in the pool
    assert x2[0] == 1_100.0 and y2[0] == pytest.approx(100 - usdc_out[0])
    bigger = _sell_evch(x, y, np.array([300.0]), keep=0.997)
    # Price impact: the larger sell gets a worse average price and leaves a lower price.
    assert bigger[2][0] / 300 < usdc_out[0] / 100
    assert bigger[1][0] / bigger[0][0] < y2[0] / x2[0]
    x3, y3, evch_out = _buy_evch(x, y, np.array([10.0]), keep=1.0)
    assert x3[0] * y3[0] == pytest.approx(x[0] * y[0])
    assert evch_out[0] == pytest.approx(1_000 - 100_000 / 110)


def test_the_pool_never_loses_its_product():
    result = simulate(small())
    k = result.path("pool_evch").astype(float) * result.path("pool_usdc")
    assert (k[1:] >= k[:-1] * (1 - 1e-5)).all()


def test_the_peg_holds_the_band_while_the_treasury_has_reserves_and_not_without_it():
    held = small(market__trader_flow_sd=0.05, peg__band=0.05)
    result = simulate(held)
    ratio = result.path("price_usd") / held.demand.kwh_price_usd
    above, below = ratio > 1.05 * 1.001, ratio < 0.95 / 1.001
    # Outside the band only where the treasury has run out of what it would trade.
    assert (result.path("treasury_evch")[above] < 1).all()
    assert (result.path("treasury_usdc")[below] < 1e-3).all()
    assert (~above & ~below).mean() > 0.5
    free = simulate(held.replace({"peg.enabled": False})).path("price_usd")
    assert np.abs(free / held.demand.kwh_price_usd - 1).max() > 0.2


def test_staking_locks_longer_with_longer_lockups_and_never_unlocks_when_all_is_relocked():
    short = simulate(small(staking__tiers__2__lock_days=30))
    long = simulate(small(staking__tiers__2__lock_days=720))
    assert long.path("staked_evch")[-1].mean() > short.path("staked_evch")[-1].mean()
    forever = simulate(small(staking__restake_share=1.0)).path("staked_evch")
    assert (np.diff(forever, axis=0) >= -1e-3 * forever[1:]).all()


def test_tier_discounts_lower_what_stakers_pay_and_so_the_fees():
    discounts = {f"staking.tiers.{k}.fee_discount": 0.9 for k in range(3)}
    plain = simulate(small())
    discounted = simulate(small().replace(discounts))
    assert discounted.path("fees_evch")[-1].mean() < plain.path("fees_evch")[-1].mean()


def test_a_seed_gives_the_same_run_and_another_seed_another():
    first, second = simulate(small()), simulate(small())
    for name in ("price_usd", "supply_evch", "staked_evch"):
        assert np.array_equal(first.path(name), second.path(name))
    other = simulate(small(simulation__seed=8))
    assert not np.array_equal(first.path("price_usd"), other.path("price_usd"))


def test_shocks_depend_on_the_seed_only():
    run = small().simulation
    assert np.array_equal(shocks(run).trader_z, shocks(run).trader_z)
    assert shocks(run).demand_z.shape == (run.days, 1, run.paths)


def test_side_by_side_points_equal_their_single_runs():
    a = small()
    b = a.replace({"usage.redemption_rate_per_day": 0.05, "staking.tiers.0.lock_days": 60})
    pair = simulate([a, b])
    for i, params in enumerate((a, b)):
        alone = simulate(params)
        for name in ("price_usd", "burned_evch", "staked_evch", "treasury_usdc"):
            assert np.array_equal(pair.path(name, i), alone.path(name)), (i, name)


def test_points_that_cannot_run_together_are_refused():
    fewer_tiers = small().replace(
        {"staking.tiers": [{"lock_days": 30, "fee_discount": 0.1, "stake_share": 1}]}
    )
    with pytest.raises(ModelError, match="staking tiers"):
        simulate([small(), fewer_tiers])


def test_a_sweep_runs_the_full_grid_and_each_point_as_alone():
    base = small(simulation__paths=32)
    grid = {"usage.redemption_rate_per_day": [0.0, 0.02], "peg.band": [0.02, 0.05, 0.1]}
    result = sweep(base, grid, max_batch_paths=96)  # 3 points per batch: two batches
    assert len(result.grid) == 6
    assert result.grid[list(grid)].to_dict("records") == [
        {"usage.redemption_rate_per_day": r, "peg.band": b}
        for r in (0.0, 0.02)
        for b in (0.02, 0.05, 0.1)
    ]
    assert result.bands["price_usd"].shape == (6, 3, base.simulation.days)
    fifth = simulate(grid_points(base, grid)[4])
    assert result.band("price_usd", 4).to_numpy() == pytest.approx(
        fifth.bands("price_usd").to_numpy()
    )
    assert result.grid.loc[4, "burned_evch"] == pytest.approx(key_figures(fifth)["burned_evch"])


def test_quantiles_are_numpys_percentiles():
    paths = np.random.default_rng(1).random((20, 37)).astype(np.float32)
    assert quantiles(paths) == pytest.approx(np.percentile(paths, (10, 50, 90), axis=1), abs=1e-6)


def test_bands_are_ordered_and_dated_from_launch():
    result = simulate(small())
    bands = result.bands("price_usd")
    assert (bands["p10"] <= bands["p50"]).all() and (bands["p50"] <= bands["p90"]).all()
    assert bands.index[0] == pd.Timestamp(result.points[0].simulation.start)
    assert len(bands) == result.days


def test_calibration_reads_the_runs_demand(quickstart_run: Path):
    calibration = calibrate([quickstart_run])
    sessions = pd.read_parquet(quickstart_run / "sessions.parquet")
    demand = calibration.demand
    assert demand.stations == 10  # the quickstart's ten charge points
    assert demand.sessions_per_station_day == pytest.approx(len(sessions) / 10 / 1.0)
    assert demand.energy_per_session_kwh == pytest.approx(sessions["energy_wh"].mean() / 1000)
    ledger = run_ledger(quickstart_run, read_manifest(quickstart_run))
    records = [charges[0].record for charges in ledger.charges.values()]
    off_peak_wh = sum(r.energy_wh for r in records if r.reward_class & RewardClass.OFF_PEAK)
    assert demand.off_peak_share == pytest.approx(off_peak_wh / sum(r.energy_wh for r in records))
    assert 0 < demand.off_peak_share < 1
    # The quickstart bills in IRR and has no [fx] rate to USD: its price is not used.
    assert demand.kwh_price_usd == TokenomicsParams().demand.kwh_price_usd
    assert any("IRR" in note for note in calibration.notes)


def test_calibration_refuses_a_directory_that_is_not_a_run(tmp_path: Path):
    with pytest.raises(RunDirError, match="not a finished run"):
        calibrate([tmp_path])


def test_the_parameters_file_round_trips_and_the_token_service_loads_it():
    params = TokenomicsParams().replace(
        {
            "minting.off_peak_multiplier": 1.25,
            "market.transfer_fee": 0.0075,
            "staking.tiers.1.lock_days": 120,
        }
    )
    text = dump_params(params)
    assert load_params(text) == params
    settings, peg = load_token_settings(text)
    assert settings.rates.off_peak_multiplier_bps == 12_500
    assert settings.rates.mint_rate_raw_per_kwh == 1_000_000
    assert settings.rates.rewards_cap_raw == 400_000_000 * 10**6
    assert settings.transfer_fee_bps == 75
    assert [tier.min_lock_s for tier in settings.tiers] == [30 * 86_400, 120 * 86_400, 365 * 86_400]
    assert [tier.discount_bps for tier in settings.tiers] == [500, 1_000, 2_000]
    assert peg is not None and peg.basis.value == "kwh"


def test_a_bad_parameters_file_names_the_field_and_its_line():
    text = dump_params(TokenomicsParams()).replace("band = 0.05", "band = 7")
    line = text.splitlines().index("band = 7") + 1
    with pytest.raises(ParamsFileError) as error:
        load_params(text)
    assert f"line {line}: model.peg.band" in str(error.value)
    with pytest.raises(ParamsFileError, match="no \\[model\\] table"):
        load_params("[token_service]\n")


def test_payers_short_of_evch_buy_it_in_the_pool_and_operators_get_it():
    # Drivers redeem all they earn, so every EVCH payment is bought in the pool first.
    broke = small(
        usage__redemption_rate_per_day=1.0, market__trader_flow_sd=0.0, peg__enabled=False
    )
    paying = simulate(broke.replace({"usage.payment_share": 1.0}))
    cash = simulate(broke.replace({"usage.payment_share": 0.0}))
    assert cash.path("fees_evch").max() == 0
    assert paying.path("fees_evch")[-1].min() > 0
    assert (paying.path("pool_usdc")[-1] > cash.path("pool_usdc")[-1]).all()
    assert (paying.path("price_usd")[-1] > cash.path("price_usd")[-1]).all()
