"""radCAD beside the tokenomics engine: the same simple model in both, compared path by path.

Shared by ``benchmarks/tokenomics_model.py`` (speed) and ``tests/twin/test_tokenomics_radcad.py``
(agreement), so both go through the same code:

1. ``radcad_python()``: radCAD 0.14.0 pins ``numpy<1.26.4``, which would downgrade the
   project's numpy 2, so it lives in its own virtual environment, ``benchmarks/.radcad-venv``
   (gitignored), made once with ``python -m venv`` and ``pip install`` (the configured index);
2. ``simple_params()``: the project's parameters with what the radCAD model leaves out switched
   off (staking: ``staking.stake_rate_per_day = 0``; everything else stays: demand growth and
   noise, minting with its multipliers and caps, vesting and holders' sells, redemption burns,
   payments and the platform fee, the pool with traders' flow, the peg);
3. ``run_radcad()``: writes the parameters, the run's random draws (``shocks``) and the
   allocations' schedules (``Schedules``) to a temporary folder, runs
   ``benchmarks/radcad_model.py`` with the venv's python, reads its state per day and run back;
4. ``compare()``: every compared metric of ``simulate()`` against radCAD's, day by day and path
   by path: the largest relative difference, and whether it is within ``TOLERANCE``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.tokenomics import SimulationResult, TokenomicsParams
from twin.tokenomics.engine import shocks
from twin.tokenomics.schedules import Schedules

HERE = Path(__file__).resolve().parent
VENV = HERE / ".radcad-venv"
MODEL_SCRIPT = HERE / "radcad_model.py"
RADCAD_VERSION = "0.14.0"
# radcad 0.14.0 imports typing_extensions (radcad/types.py) without declaring it
REQUIREMENTS = (f"radcad=={RADCAD_VERSION}", "typing_extensions")
# What the radCAD model leaves out.
SIMPLE = {"staking.stake_rate_per_day": 0.0}
# The parameters radcad_model.py reads, by their dotted paths in TokenomicsParams.
USED = (
    "demand.stations",
    "demand.sessions_per_station_day",
    "demand.energy_per_session_kwh",
    "demand.off_peak_share",
    "demand.renewable_share",
    "demand.kwh_price_usd",
    "demand.station_growth_per_year",
    "demand.station_growth_sd",
    "demand.usage_growth_per_year",
    "demand.usage_growth_sd",
    "demand.daily_noise_sd",
    "minting.evch_per_kwh",
    "minting.driver_share",
    "minting.operator_share",
    "minting.off_peak_multiplier",
    "minting.renewable_multiplier",
    "usage.redemption_rate_per_day",
    "usage.payment_share",
    "usage.operator_sell_rate_per_day",
    "staking.stake_rate_per_day",
    "market.pool_seed_evch",
    "market.pool_seed_usdc",
    "market.swap_fee",
    "market.transfer_fee",
    "market.trader_flow_sd",
    "peg.enabled",
    "peg.band",
    "peg.treasury_usdc",
)
# radCAD's own defaults (Engine()) but one process: the engine's numpy loop is one core too.
DEFAULT_ENGINE = {"backend": "SINGLE_PROCESS", "deepcopy": True, "drop_substeps": False}
# float32 keeps 7 significant digits; the two computations differ in rounding only
TOLERANCE = 1e-5
# Values smaller than this share of a metric's largest magnitude (in the run) are compared at
# that floor. A balance is the running sum of what flowed through it, and its rounding is
# relative to that flow, not to what is left: the treasury's USDC, millions traded by the peg
# down to a few thousand left, is 0.2 USDC apart (1e-5 of what is left, 1e-8 of what flowed).
FLOOR_SHARE = 1e-2
# Metrics the engine derives as a difference of larger float32 metrics, compared relative to
# the largest of them that day: circulating = supply - staked - treasury - pool carries the
# rounding of a supply of ~1e9 EVCH (float32 steps of 64 EVCH), however little circulates.
RELATIVE_TO = {"circulating_evch": "supply_evch"}


class RadcadError(RuntimeError):
    """radCAD could not be installed or run."""


def radcad_python(venv: Path = VENV, *, on_status: Callable[[str], None] | None = None) -> Path:
    """The venv's python with radCAD importable, the venv made first when it is missing."""
    python = venv / "bin" / "python"
    if python.exists() and _radcad_version(python) == RADCAD_VERSION:
        return python
    say = on_status or (lambda _message: None)
    say(f"creating {venv} (python -m venv)")
    _run([sys.executable, "-m", "venv", "--clear", str(venv)])
    say(f"installing {' '.join(REQUIREMENTS)} into it")
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          *REQUIREMENTS])  # fmt: skip
    found = _radcad_version(python)
    if found != RADCAD_VERSION:
        raise RadcadError(f"{venv}: radcad {found} after pip install, not {RADCAD_VERSION}")
    return python


def _radcad_version(python: Path) -> str | None:
    done = subprocess.run(
        [str(python), "-c", "import radcad; print(radcad.__version__)"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RadcadError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def simple_params(
    runs: int, days: int, base: TokenomicsParams | None = None, *, seed: int | None = None
) -> TokenomicsParams:
    """``base`` (the defaults) without what the radCAD model lacks, ``runs`` paths of ``days``
    days."""
    base = base or TokenomicsParams()
    changes: dict[str, Any] = {
        **SIMPLE,
        "simulation.paths": runs,
        "simulation.years": days / 365,
    }
    if seed is not None:
        changes["simulation.seed"] = seed
    params = base.replace(changes)
    if params.simulation.days != days:
        raise ValueError(f"{days} days do not make whole simulation.years")
    return params


@dataclass(frozen=True)
class RadcadRun:
    """radCAD's state at the end of each day, (days, runs), and what its script measured."""

    state: dict[str, np.ndarray]
    timing: dict[str, Any]
    params: TokenomicsParams

    @property
    def run_steps_per_s(self) -> float:
        return self.timing["runs"] * self.timing["days"] / self.timing["run_s"]


def model_inputs(params: TokenomicsParams) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The parameters radcad_model.py reads, and its arrays: the run's draws, one row per
    path, and the allocations' schedules per day."""
    for path, value in SIMPLE.items():
        if params.get(path) != value:
            raise ValueError(f"the radCAD model needs {path} = {value}, not {params.get(path)}")
    run = params.simulation
    draws = shocks(run)
    schedule = Schedules([params], run.days)
    arrays = {
        "station_z": draws.station_z.astype(float),
        "usage_z": draws.usage_z.astype(float),
        "demand_z": draws.demand_z[:, 0, :].T.astype(float),  # (runs, days); float32 -> exact
        "trader_z": draws.trader_z.T.astype(float),
        "rewards_cap": schedule.rewards_cap[:, 0, 0],
        "operators_cap": schedule.operators_cap[:, 0, 0],
        "liquidity": schedule.liquidity[:, 0, 0],
        "to_holders": schedule.to_holders[:, 0, 0],
        "sold": schedule.sold[:, 0, 0],
    }
    return {path: params.get(path) for path in USED}, arrays


def run_radcad(
    params: TokenomicsParams,
    *,
    engine: dict[str, Any] | None = None,
    python: Path | None = None,
    on_run: Callable[[int], None] | None = None,
) -> RadcadRun:
    """Run the radCAD model on ``params`` (``simulation.paths`` runs of ``simulation.days``
    timesteps) in its venv; ``on_run(n)`` as each run ends."""
    values, arrays = model_inputs(params)
    run = params.simulation
    spec = {"model": "tokenomics", "params": values, "runs": run.paths, "days": run.days}
    state, timing = _run_script(spec, arrays, engine, python, on_run)
    return RadcadRun(state=state, timing=timing, params=params)


def run_minimal(
    runs: int,
    days: int,
    *,
    engine: dict[str, Any] | None = None,
    python: Path | None = None,
    on_run: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """radCAD's timing on the two-variable model of radcad_model.py: what radCAD itself
    costs per run-step on this machine."""
    spec = {"model": "minimal", "params": {}, "runs": runs, "days": days}
    return _run_script(spec, {}, engine, python, on_run)[1]


def _run_script(
    spec: dict[str, Any],
    arrays: dict[str, np.ndarray],
    engine: dict[str, Any] | None,
    python: Path | None,
    on_run: Callable[[int], None] | None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    python = python or radcad_python()
    with tempfile.TemporaryDirectory(prefix="evch-radcad-") as folder:
        in_dir, out_dir = Path(folder) / "in", Path(folder) / "out"
        in_dir.mkdir()
        spec = {**spec, "engine": {**DEFAULT_ENGINE, **(engine or {})}}
        (in_dir / "params.json").write_text(json.dumps(spec, indent=2))
        np.savez(in_dir / "inputs.npz", **arrays)
        env = {**os.environ, "PYTHONPATH": ""}  # nothing of the project's environment
        env.pop("RADCAD_BACKEND", None)  # it would override the engine's backend
        with subprocess.Popen(
            [str(python), str(MODEL_SCRIPT), str(in_dir), str(out_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as child:
            assert child.stdout is not None and child.stderr is not None
            for line in child.stdout:
                if line.startswith("run ") and on_run is not None:
                    on_run(int(line.split()[1]))
            stderr = child.stderr.read()
        if child.returncode != 0:
            raise RadcadError(f"radcad_model.py failed ({child.returncode}):\n{stderr}")
        with np.load(out_dir / "outputs.npz") as npz:
            state = {name: npz[name] for name in npz.files}
        timing = json.loads((out_dir / "timing.json").read_text())
    return state, timing


# -- the comparison -------------------------------------------------------------------------
def _radcad_metrics(run: RadcadRun) -> dict[str, np.ndarray]:
    """radCAD's state as the engine's metrics, (days, runs)."""
    s = run.state
    released = Schedules([run.params], run.params.simulation.days).released[:, 0, :]
    minted = s["rewards_minted_evch"] + s["operators_minted_evch"]
    return {
        "sessions": s["sessions"],
        "rewards_minted_evch": s["rewards_minted_evch"],
        "operators_minted_evch": s["operators_minted_evch"],
        "minted_evch": minted,
        "burned_evch": s["burned_evch"],
        "fees_evch": s["fees_evch"],
        "supply_evch": released + minted - s["burned_evch"],
        # counted from the holders' side: the engine's is supply - staked - treasury - pool
        "circulating_evch": s["drivers_evch"] + s["operators_evch"] + s["others_evch"],
        "treasury_evch": s["treasury_evch"],
        "treasury_usdc": s["treasury_usdc"],
        "pool_evch": s["pool_evch"],
        "pool_usdc": s["pool_usdc"],
        "price_usd": s["pool_usdc"] / s["pool_evch"],
    }


COMPARED = (
    "sessions",
    "rewards_minted_evch",
    "operators_minted_evch",
    "minted_evch",
    "burned_evch",
    "fees_evch",
    "supply_evch",
    "circulating_evch",
    "treasury_evch",
    "treasury_usdc",
    "pool_evch",
    "pool_usdc",
    "price_usd",
)


@dataclass(frozen=True)
class Difference:
    """One metric: the largest relative difference over every day and path, where it is, and
    the values there."""

    metric: str
    max_rel: float
    day: int
    path: int
    ours: float
    radcad: float
    final_ours_p50: float
    final_radcad_p50: float

    @property
    def ok(self) -> bool:
        return self.max_rel <= TOLERANCE


def compare(result: SimulationResult, run: RadcadRun, point: int = 0) -> list[Difference]:
    """Every compared metric of ``result`` (its first ``runs`` paths) against radCAD's."""
    theirs_all = _radcad_metrics(run)
    days, runs = theirs_all["sessions"].shape
    if result.days != days or result.paths < runs:
        raise ValueError(
            f"the engine ran {result.paths} paths x {result.days} days, radCAD {runs} x {days}"
        )
    differences = []
    for metric in COMPARED:
        ours = result.path(metric, point)[:, :runs].astype(float)
        theirs = theirs_all[metric]
        scale = np.abs(theirs)
        if metric in RELATIVE_TO:
            scale = np.maximum(scale, np.abs(theirs_all[RELATIVE_TO[metric]]))
        floor = max(FLOOR_SHARE * scale.max(), 1e-300)
        rel = np.abs(ours - theirs) / np.maximum(scale, floor)
        day, path = np.unravel_index(np.argmax(rel), rel.shape)
        differences.append(
            Difference(
                metric=metric,
                max_rel=float(rel[day, path]),
                day=int(day),
                path=int(path),
                ours=float(ours[day, path]),
                radcad=float(theirs[day, path]),
                final_ours_p50=float(np.median(ours[-1])),
                final_radcad_p50=float(np.median(theirs[-1])),
            )
        )
    return differences


class Mismatch(AssertionError):
    """The engine and radCAD disagree beyond ``TOLERANCE``."""


def check(differences: list[Difference]) -> None:
    """Raise :class:`Mismatch` naming every metric over ``TOLERANCE``."""
    over = [d for d in differences if not d.ok]
    if over:
        lines = [
            f"{d.metric}: relative difference {d.max_rel:.3g} > {TOLERANCE:g} on day {d.day}, "
            f"path {d.path} (engine {d.ours:.9g}, radCAD {d.radcad:.9g})"
            for d in over
        ]
        raise Mismatch("the engine and radCAD disagree:\n" + "\n".join(lines))
