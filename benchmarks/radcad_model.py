"""The EVCH tokenomics model without staking, written for radCAD: the baseline of
``benchmarks/tokenomics_model.py`` and ``tests/twin/test_tokenomics_radcad.py``.

    <radcad venv>/bin/python benchmarks/radcad_model.py IN_DIR OUT_DIR

Runs under radCAD 0.14.0 in its own virtual environment (``benchmarks/.radcad-venv``, made by
``benchmarks/radcad_baseline.py``): radCAD pins ``numpy<1.26.4``, so this script imports
nothing of the project. What it needs comes through files that ``radcad_baseline.py`` writes:

- ``IN_DIR/params.json``: ``{"params": {...}, "runs": R, "days": D, "engine": {...}}``, the
  parameters by their dotted names in ``TokenomicsParams`` and radCAD's engine settings
  (``"model": "minimal"`` runs the two-variable model at the end instead, no inputs needed);
- ``IN_DIR/inputs.npz``: the random draws of the run (``twin.tokenomics.engine.shocks``), one
  row per radCAD run (= Monte Carlo path): ``station_z`` and ``usage_z`` (R,), ``demand_z`` and
  ``trader_z`` (R, D); and the allocations' schedules per day (``twin.tokenomics.schedules``),
  EVCH: ``rewards_cap``, ``operators_cap`` (cumulative), ``liquidity``, ``to_holders``, ``sold``
  (released that day), all float64.

It writes ``OUT_DIR/outputs.npz`` (every state variable at the end of each day, (D, R)) and
``OUT_DIR/timing.json`` (the wall time of ``Experiment.run()`` and of reading its results into
arrays, and the versions). One line ``run N`` goes to stdout as each run ends (the caller's
progress bar; in-process backends only).

The equations are those of ``twin/tokenomics/engine.py`` for one parameter set, one path per
radCAD run, one timestep per day, written the idiomatic cadCAD way: one partial state update
block per step of the engine's day (payments and the market in one, as payers short of EVCH
buy it in the pool's swap), a policy that computes the step's new values from the
state, ``update_from_signal`` state updates that set them. The staking step is left out (the
caller sets ``staking.stake_rate_per_day`` to 0, which makes the engine's staking a no-op).
Every operation keeps the engine's order, so the two agree to the rounding of float32.
"""

from __future__ import annotations

import json
import math
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from radcad import Backend, Engine, Experiment, Model, Simulation
from radcad.utils import update_from_signal

DAYS_PER_YEAR = 365
SCHEDULES = ("rewards_cap", "operators_cap", "liquidity", "to_holders", "sold")
# the model's state: what the engine keeps per path, and the day's sessions and energy
STATE = (
    "sessions",
    "kwh",
    "drivers_evch",
    "operators_evch",
    "others_evch",
    "rewards_minted_evch",
    "operators_minted_evch",
    "burned_evch",
    "fees_evch",
    "treasury_evch",
    "treasury_usdc",
    "pool_evch",
    "pool_usdc",
    "bought_to_pay_evch",  # cumulative: what payers short of EVCH bought in the pool
)


def _day(history: list) -> int:
    """The day being computed, 0-based: radCAD's history holds the initial state and the days
    done (the same in every substep; the ``timestep`` of a substate is not)."""
    return len(history) - 1


def _path(state: dict) -> int:
    return state["run"] - 1  # radCAD counts runs from 1


# -- 1. demand and 2. minting --------------------------------------------------------------
def p_demand_and_minting(params, substep, history, state):
    day, path = _day(history), _path(state)
    growth = (
        _log_growth(
            params["demand.station_growth_per_year"],
            params["demand.station_growth_sd"],
            float(params["station_z"][path]),
        )
        + _log_growth(
            params["demand.usage_growth_per_year"],
            params["demand.usage_growth_sd"],
            float(params["usage_z"][path]),
        )
    ) / DAYS_PER_YEAR
    noise_sd = params["demand.daily_noise_sd"]
    sessions = (
        params["demand.stations"]
        * params["demand.sessions_per_station_day"]
        * math.exp(day * growth + noise_sd * float(params["demand_z"][path, day]) - noise_sd**2 / 2)
    )
    kwh = sessions * params["demand.energy_per_session_kwh"]
    evch_per_kwh = params["minting.evch_per_kwh"]
    user_per_kwh = evch_per_kwh * (
        params["minting.driver_share"]
        + params["demand.off_peak_share"] * (params["minting.off_peak_multiplier"] - 1)
        + params["demand.renewable_share"] * (params["minting.renewable_multiplier"] - 1)
    )
    operator_per_kwh = evch_per_kwh * params["minting.operator_share"]
    # minted out of the energy allocations, as far as their unlocked, unminted remainder goes
    user = min(
        kwh * user_per_kwh, max(params["rewards_cap"][day] - state["rewards_minted_evch"], 0)
    )
    operator = min(
        kwh * operator_per_kwh,
        max(params["operators_cap"][day] - state["operators_minted_evch"], 0),
    )
    return {
        "sessions": sessions,
        "kwh": kwh,
        "rewards_minted_evch": state["rewards_minted_evch"] + user,
        "operators_minted_evch": state["operators_minted_evch"] + operator,
        "drivers_evch": state["drivers_evch"] + user,
        "operators_evch": state["operators_evch"] + operator,
    }


def _log_growth(rate: float, sd: float, z: float) -> float:
    return math.log1p(max(rate + sd * z, -0.99))


# -- 3. vesting ----------------------------------------------------------------------------
def p_vesting(params, substep, history, state):
    day = _day(history)
    return {
        "treasury_evch": state["treasury_evch"] + params["liquidity"][day],
        "others_evch": state["others_evch"] + params["to_holders"][day],
    }


# -- 5. redemption burns (4. staking is off) ------------------------------------------------
def p_redemption(params, substep, history, state):
    redeemed = params["usage.redemption_rate_per_day"] * state["drivers_evch"]
    return {
        "drivers_evch": state["drivers_evch"] - redeemed,
        "burned_evch": state["burned_evch"] + redeemed,
    }


# -- 6. payments and 7. the market: payers short of EVCH buy it in the pool -----------------
def p_payments_and_market(params, substep, history, state):
    day, path = _day(history), _path(state)
    keep = 1 - params["market.swap_fee"]
    x, y = state["pool_evch"], state["pool_usdc"]
    # 6. payments at the pool price (no stakers: no discount), from the drivers' EVCH first
    payment_usd_per_kwh = params["usage.payment_share"] * params["demand.kwh_price_usd"]
    owed_usd = state["kwh"] * payment_usd_per_kwh
    from_balance = min(owed_usd * (x / y), state["drivers_evch"])
    short_usd = max(owed_usd - from_balance * (y / x), 0)
    # 7. traders' net flow, operators' and holders' sells, payers' buys: one swap each way
    flow = params["market.trader_flow_sd"] * float(params["trader_z"][path, day]) * y
    held_sold = params["sold"][day]
    others = state["others_evch"] - held_sold
    trader_sold = min(max(-flow, 0) * (x / y), others)
    operator_sold = params["usage.operator_sell_rate_per_day"] * state["operators_evch"]
    operators = state["operators_evch"] - operator_sold
    x, y, _ = _sell_evch(x, y, operator_sold + held_sold + trader_sold, keep)
    buys_usd = max(flow, 0) + short_usd
    x, y, bought = _buy_evch(x, y, buys_usd, keep)
    bought_to_pay = bought * (short_usd / max(buys_usd, 1e-12))
    paid = from_balance + bought_to_pay  # to the operators, less the platform fee
    fee = paid * params["market.transfer_fee"]
    return {
        "drivers_evch": state["drivers_evch"] - from_balance,
        "others_evch": others + (bought - bought_to_pay - trader_sold),
        "operators_evch": operators + (paid - fee),
        "treasury_evch": state["treasury_evch"] + fee,
        "fees_evch": state["fees_evch"] + fee,
        "pool_evch": x,
        "pool_usdc": y,
        "bought_to_pay_evch": state["bought_to_pay_evch"] + bought_to_pay,
    }


# -- 8. peg: the treasury trades the pool back to the band's edge ---------------------------
def p_peg(params, substep, history, state):
    x, y = state["pool_evch"], state["pool_usdc"]
    if not params["peg.enabled"]:
        keep_all = ("pool_evch", "pool_usdc", "treasury_evch", "treasury_usdc")
        return {name: state[name] for name in keep_all}
    keep = 1 - params["market.swap_fee"]
    peg_price = params["demand.kwh_price_usd"] / params["minting.evch_per_kwh"]
    upper = peg_price * (1 + params["peg.band"])
    lower = peg_price * (1 - params["peg.band"])
    k = x * y
    evch_in = min(max(math.sqrt(k / upper) - x, 0) / keep, max(state["treasury_evch"], 0))
    usdc_in = min(max(math.sqrt(k * lower) - y, 0) / keep, state["treasury_usdc"])
    x, y, usdc_out = _sell_evch(x, y, evch_in, keep)
    x, y, evch_out = _buy_evch(x, y, usdc_in, keep)
    return {
        "pool_evch": x,
        "pool_usdc": y,
        "treasury_evch": state["treasury_evch"] + (evch_out - evch_in),
        "treasury_usdc": state["treasury_usdc"] + (usdc_out - usdc_in),
    }


def _sell_evch(x: float, y: float, evch_in: float, keep: float) -> tuple[float, float, float]:
    """Swap ``evch_in`` into the constant-product pool (x EVCH, y USDC); the fee stays in it."""
    effective = evch_in * keep
    usdc_out = y * effective / (x + effective)
    return x + evch_in, y - usdc_out, usdc_out


def _buy_evch(x: float, y: float, usdc_in: float, keep: float) -> tuple[float, float, float]:
    effective = usdc_in * keep
    evch_out = x * effective / (y + effective)
    return x - evch_out, y + usdc_in, evch_out


def _block(policy, *variables: str) -> dict:
    return {
        "policies": {policy.__name__: policy},
        "variables": {name: update_from_signal(name) for name in variables},
    }


STATE_UPDATE_BLOCKS = [
    _block(
        p_demand_and_minting,
        "sessions",
        "kwh",
        "rewards_minted_evch",
        "operators_minted_evch",
        "drivers_evch",
        "operators_evch",
    ),
    _block(p_vesting, "treasury_evch", "others_evch"),
    _block(p_redemption, "drivers_evch", "burned_evch"),
    _block(
        p_payments_and_market,
        "drivers_evch",
        "others_evch",
        "operators_evch",
        "treasury_evch",
        "fees_evch",
        "pool_evch",
        "pool_usdc",
        "bought_to_pay_evch",
    ),
    _block(p_peg, "pool_evch", "pool_usdc", "treasury_evch", "treasury_usdc"),
]


# -- a minimal model, to place the machine against the usual small radCAD model --------------
# Two state variables, two blocks of one policy and one update each: what radCAD costs per
# run-step when the model itself costs next to nothing.
def p_mint(params, substep, history, state):
    return {"minted_evch": params["mint_rate_per_day"] * state["supply_evch"]}


def p_burn(params, substep, history, state):
    return {"burned_evch": params["burn_rate_per_day"] * state["supply_evch"]}


def s_supply(params, substep, history, state, signals):
    return "supply_evch", state["supply_evch"] + signals["minted_evch"]


def s_burned(params, substep, history, state, signals):
    return "burned_evch", state["burned_evch"] + signals["burned_evch"]


MINIMAL_BLOCKS = [
    {"policies": {"mint": p_mint}, "variables": {"supply_evch": s_supply}},
    {"policies": {"burn": p_burn}, "variables": {"burned_evch": s_burned}},
]
MINIMAL_STATE = {"supply_evch": 1e9, "burned_evch": 0.0}
MINIMAL_PARAMS = {"mint_rate_per_day": 1e-4, "burn_rate_per_day": 5e-5}


def initial_state(params: dict) -> dict:
    state = dict.fromkeys(STATE, 0.0)
    state["pool_evch"] = params["market.pool_seed_evch"]
    state["pool_usdc"] = params["market.pool_seed_usdc"]
    # the pool's seed came out of the liquidity allocation; its release lands in the treasury
    state["treasury_evch"] = -params["market.pool_seed_evch"]
    state["treasury_usdc"] = params["peg.treasury_usdc"]
    return state


def tokenomics_model(params: dict, inputs: dict[str, np.ndarray]) -> Model:
    if params["staking.stake_rate_per_day"] != 0:
        raise SystemExit("radcad_model.py has no staking: set staking.stake_rate_per_day = 0")
    # schedules as lists of Python floats (they are read one day at a time); the draws stay
    # arrays, which radCAD's deep copy of the parameters for each run copies at once
    schedules = {name: inputs[name].tolist() for name in SCHEDULES}
    model_params = {**params, **inputs, **schedules}
    return Model(
        initial_state=initial_state(params),
        state_update_blocks=STATE_UPDATE_BLOCKS,
        params={key: [value] for key, value in model_params.items()},  # one subset, no sweep
    )


def minimal_model() -> Model:
    return Model(
        initial_state=dict(MINIMAL_STATE),
        state_update_blocks=MINIMAL_BLOCKS,
        params={key: [value] for key, value in MINIMAL_PARAMS.items()},
    )


def run_experiment(model: Model, runs: int, days: int, engine: dict) -> tuple[list[dict], float]:
    """radCAD's raw results (a flat list of substates) and the wall time of ``run()``."""
    simulation = Simulation(model=model, timesteps=days, runs=runs)
    experiment = Experiment([simulation])
    # set after construction: Experiment(engine=...) raises in radCAD 0.14.0 (its base class
    # pops the options from a copy of the keyword arguments, the subclass then rejects them)
    experiment.engine = Engine(
        backend=Backend[engine.get("backend", "SINGLE_PROCESS")],
        processes=engine.get("processes") or 1,
        deepcopy=engine.get("deepcopy", True),
        drop_substeps=engine.get("drop_substeps", False),
    )
    experiment.after_run = _report_run
    start = time.perf_counter()
    results = experiment.run()
    wall_s = time.perf_counter() - start
    failed = [e for e in experiment.exceptions if e and e.get("exception")]
    if failed:
        raise SystemExit(f"radCAD runs failed: {failed}")
    return results, wall_s


def _report_run(context) -> None:
    print(f"run {context.run}", flush=True)


def to_arrays(
    results: list[dict], names: tuple[str, ...], runs: int, days: int
) -> dict[str, np.ndarray]:
    """Each state variable at the end of each day, (days, runs): the last substep of each
    timestep (the initial state is timestep 0)."""
    last = max(row["substep"] for row in results)
    ends = [row for row in results if row["substep"] == last and row["timestep"] > 0]
    if len(ends) != runs * days:
        raise SystemExit(f"radCAD gave {len(ends)} day-ends, not {runs} runs x {days} days")
    arrays = {name: np.empty((days, runs)) for name in names}
    for row in ends:
        for name in names:
            arrays[name][row["timestep"] - 1, row["run"] - 1] = row[name]
    return arrays


def main(in_dir: Path, out_dir: Path) -> None:
    spec = json.loads((in_dir / "params.json").read_text())
    with np.load(in_dir / "inputs.npz") as npz:
        inputs = {name: npz[name] for name in npz.files}
    runs, days = spec["runs"], spec["days"]
    if spec.get("model", "tokenomics") == "minimal":
        model, names = minimal_model(), tuple(MINIMAL_STATE)
    else:
        model, names = tokenomics_model(spec["params"], inputs), STATE
    results, run_s = run_experiment(model, runs, days, spec["engine"])
    start = time.perf_counter()
    arrays = to_arrays(results, names, runs, days)
    arrays_s = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "outputs.npz", **arrays)
    timing = {
        "run_s": run_s,
        "to_arrays_s": arrays_s,
        "substates": len(results),
        "runs": runs,
        "days": days,
        "engine": spec["engine"],
        "model": spec.get("model", "tokenomics"),
        "versions": {name: version(name) for name in ("radcad", "numpy", "pandas", "pathos")},
        "python": sys.version.split()[0],
    }
    (out_dir / "timing.json").write_text(json.dumps(timing, indent=2))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
