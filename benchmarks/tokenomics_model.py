"""The tokenomics model's speed, beside radCAD running the same model, and their agreement.

    python benchmarks/tokenomics_model.py [--paths 1000] [--years 10] [--repeat 5]
                                          [--radcad-runs 20] [--no-sweep] [--output FILE]

Run-steps are Monte Carlo paths (radCAD: runs) x daily steps (radCAD: timesteps). On one
machine, one after the other:

- **evch** ``twin.tokenomics.simulate``, in this process: the full model (the defaults, with
  staking) and the simple model (``radcad_baseline.simple_params``: staking off) on ``--paths``
  paths of ``--years`` years, then the simple model on ``--radcad-runs`` paths. Each: the first
  call of that size (cold; the very first call of the process is the full model's) and the
  median of ``--repeat`` more, wall clock around ``simulate()``.
- **radCAD 0.14.0** in its own venv (``benchmarks/.radcad-venv``, made on the first run): the
  simple model (``radcad_model.py``) on ``--radcad-runs`` runs of the same days, with radCAD's
  defaults (deep copies of the state for every policy and update, every substep kept; one
  process, as the engine) and tuned (no deep copy, substeps dropped: its fastest). Then its
  two-variable model on the same runs and days: what radCAD itself costs per run-step here (the
  reference's "about 60,000 run-steps/s" on a comparable small model). Wall clock around
  ``Experiment.run()`` alone, one call each.
- **Agreement**: radCAD's paths (both configurations) against the engine's on the same draws
  (``shocks``) and schedules, every day and path of sessions, minted, burned, fees, supply,
  circulating (radCAD's counted from the holders' balances), treasury, pool and price: the
  largest relative difference of each, which must stay within ``radcad_baseline.TOLERANCE``
  (1e-5: float32 storage), or the benchmark fails (exit code 1).
- **Sweep** (when ``twin.tokenomics.sweep`` exists): ``sweep(params, grid)`` over a 3 x 3 grid
  of the defaults, ``--paths`` paths each, once.

Results go to ``benchmarks/results/tokenomics_model.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from machine import busy_cpu_s, machine_info, progress_bar, versions
from radcad_baseline import (
    FLOOR_SHARE,
    RADCAD_VERSION,
    RELATIVE_TO,
    SIMPLE,
    TOLERANCE,
    VENV,
    Difference,
    compare,
    radcad_python,
    run_minimal,
    run_radcad,
    simple_params,
)
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from twin.tokenomics import TokenomicsParams, simulate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REFERENCE = (
    "radCAD (PyPI) runs a comparable small model at about 60,000 run-steps per second here; "
    "goal: 1,000 paths x 10 years of daily steps in under 1 second"
)
GOAL_WALL_S = 1.0
NOISY_PCT = 15  # other processes' CPU (% of a core) during a measurement that makes it suspect
TUNED = {"deepcopy": False, "drop_substeps": True}
SWEEP_GRID = {
    "usage.redemption_rate_per_day": [0.005, 0.01, 0.02],
    "peg.band": [0.02, 0.05, 0.1],
}

console = Console(width=None if sys.stdout.isatty() else 150)


class OthersCpu:
    """Other processes' CPU while a row is measured, in % of a core: another job on the same
    2 cores makes the figures low. (The machine's counters tick every 10 ms.)"""

    def __enter__(self) -> OthersCpu:
        self._start = (busy_cpu_s(), _own_s(), time.perf_counter())
        self.pct = 0
        return self

    def __exit__(self, *exc: object) -> None:
        busy0, own0, t0 = self._start
        rest_s = (busy_cpu_s() - busy0) - (_own_s() - own0)
        self.pct = max(0, round(100 * rest_s / (time.perf_counter() - t0)))


def _own_s() -> float:
    """This process's CPU seconds and its waited-for children's (the radCAD subprocess)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure_evch(
    label: str, params: TokenomicsParams, repeat: int, progress: Progress
) -> dict[str, Any]:
    """The first call of ``simulate(params)`` and the median of ``repeat`` more."""
    run = params.simulation
    task = progress.add_task(f"evch {label}, {run.paths:,} x {run.days:,}", total=repeat + 1)
    with OthersCpu() as others:
        cold_s = timed(lambda: simulate(params))
        progress.advance(task)
        walls = []
        for _ in range(repeat):
            walls.append(timed(lambda: simulate(params)))
            progress.advance(task)
    wall_s = statistics.median(walls)
    return {
        "engine": "evch simulate",
        "model": label,
        "runs": run.paths,
        "days": run.days,
        "points": 1,
        "cold_s": cold_s,
        "wall_s": wall_s,
        "walls_s": walls,
        "run_steps_per_s": run.paths * run.days / wall_s,
        "others_cpu_pct": others.pct,
    }


def measure_radcad(
    label: str,
    engine_label: str,
    engine: dict[str, Any],
    params: TokenomicsParams | None,
    runs: int,
    days: int,
    progress: Progress,
) -> tuple[dict[str, Any], Any]:
    """One radCAD run of the simple model (``params``) or of its minimal model (None)."""
    model = label if params is not None else "minimal (2 variables, 2 blocks)"
    task = progress.add_task(f"radCAD {engine_label}, {model}, {runs} x {days:,}", total=runs)

    def on_run(n: int) -> None:
        progress.update(task, completed=n)

    with OthersCpu() as others:
        if params is not None:
            radcad = run_radcad(params, engine=engine, on_run=on_run)
            timing = radcad.timing
        else:
            radcad, timing = None, run_minimal(runs, days, engine=engine, on_run=on_run)
    row = {
        "engine": f"radCAD {RADCAD_VERSION} ({engine_label}, 1 process)",
        "model": model,
        "runs": runs,
        "days": days,
        "points": 1,
        "cold_s": None,
        "wall_s": timing["run_s"],
        "run_steps_per_s": runs * days / timing["run_s"],
        "others_cpu_pct": others.pct,
        "radcad_engine": timing["engine"],
        "to_arrays_s": timing["to_arrays_s"],
        "substates": timing["substates"],
        "venv_versions": timing["versions"],
    }
    return row, radcad


def measure_sweep(paths: int, days: int, progress: Progress) -> dict[str, Any] | None:
    """``sweep(params, grid)`` over ``SWEEP_GRID`` once, if the module exists: the points run
    in batches of ``max_batch_paths`` paths, each reduced to its bands and key figures."""
    try:
        from twin.tokenomics.sweep import grid_points, sweep
    except ImportError:
        return None
    params = TokenomicsParams().replace({"simulation.paths": paths, "simulation.years": days / 365})
    points = len(grid_points(params, SWEEP_GRID))
    task = progress.add_task(f"evch sweep, {points} points x {paths:,} x {days:,}", total=points)
    try:
        with OthersCpu() as others:
            wall_s = timed(
                lambda: sweep(
                    params, SWEEP_GRID, on_point=lambda i: progress.update(task, completed=i + 1)
                )
            )
    except Exception as error:  # the module is being written: report, do not fail the rest
        return {"engine": "evch sweep", "failed": repr(error)}
    return {
        "engine": "evch sweep",
        "model": f"full, {' x '.join(str(len(v)) for v in SWEEP_GRID.values())} grid",
        "runs": paths,
        "days": days,
        "points": points,
        "cold_s": wall_s,
        "wall_s": wall_s,
        "run_steps_per_s": points * paths * days / wall_s,
        "others_cpu_pct": others.pct,
        "grid": SWEEP_GRID,
    }


def add_ratios(rows: list[dict[str, Any]], radcad_rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each row's run-steps/s over radCAD's on the simple model, defaults and tuned."""
    defaults, tuned = (r for r in radcad_rows if r["model"] == "simple")
    baselines = {
        "vs_radcad_defaults": defaults["run_steps_per_s"],
        "vs_radcad_tuned": tuned["run_steps_per_s"],
    }
    for row in rows:
        if "failed" in row:
            continue
        for key, rate in baselines.items():
            row[key] = row["run_steps_per_s"] / rate
    return baselines


def render_speed(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title="Tokenomics model: run-steps (paths x days) per second, evch vs radCAD",
        title_justify="left",
    )
    for name, justify in (
        ("engine", "left"),
        ("model", "left"),
        ("points x runs x days", "right"),
        ("cold s", "right"),
        ("wall s", "right"),
        ("run-steps/s", "right"),
        ("vs radCAD defaults", "right"),
        ("vs radCAD tuned", "right"),
        ("others' CPU %", "right"),
    ):
        table.add_column(name, justify=justify)
    for row in rows:
        if "failed" in row:
            table.add_row(row["engine"], f"[red]failed: {row['failed']}[/]")
            continue
        size = f"{row['runs']:,} x {row['days']:,}"
        if row["points"] > 1:
            size = f"{row['points']} x {size}"
        table.add_row(
            row["engine"],
            row["model"],
            size,
            "-" if row["cold_s"] is None else f"{row['cold_s']:.3f}",
            f"{row['wall_s']:.3f}",
            f"{row['run_steps_per_s']:,.0f}",
            f"{row['vs_radcad_defaults']:,.2f} x",
            f"{row['vs_radcad_tuned']:,.2f} x",
            f"[{'yellow' if row['others_cpu_pct'] >= NOISY_PCT else 'default'}]"
            f"{row['others_cpu_pct']}[/]",
        )
    return table


def render_agreement(agreement: dict[str, list[Difference]]) -> Table:
    table = Table(
        title=f"Agreement: largest relative difference over every day and path "
        f"(tolerance {TOLERANCE:g})",
        title_justify="left",
    )
    configs = list(agreement)
    table.add_column("metric")
    for config in configs:
        table.add_column(f"max rel. diff, radCAD {config}", justify="right")
    first = agreement[configs[0]]
    table.add_column("at day, path", justify="right")
    table.add_column("final P50 evch", justify="right")
    table.add_column("final P50 radCAD", justify="right")
    for i, difference in enumerate(first):
        cells = []
        for config in configs:
            d = agreement[config][i]
            colour = "green" if d.ok else "red"
            cells.append(f"[{colour}]{d.max_rel:.2e}[/]")
        table.add_row(
            difference.metric,
            *cells,
            f"{difference.day}, {difference.path}",
            f"{difference.final_ours_p50:,.6g}",
            f"{difference.final_radcad_p50:,.6g}",
        )
    return table


def goal_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rows if r["engine"] == "evch simulate" and r["model"] == "full")


def goal_met(goal: dict[str, Any]) -> bool | None:
    """Whether the full model ran 1,000 paths x 10 years within the goal (None: another size)."""
    if (goal["runs"], goal["days"]) != (1_000, 3_650):
        return None
    return goal["wall_s"] < GOAL_WALL_S


def notes(rows: list[dict[str, Any]], agreement: dict[str, list[Difference]]) -> list[str]:
    lines = []
    goal = goal_row(rows)
    met = goal_met(goal)
    if met is None:
        verdict = "[yellow]not the goal's size[/]"
    else:
        verdict = f"[{'green' if met else 'red'}]{'met' if met else 'not met'}[/]"
    lines.append(
        f"- goal, 1,000 paths x 10 years under {GOAL_WALL_S:g} s: full model "
        f"{goal['runs']:,} x {goal['days']:,} in {goal['wall_s']:.3f} s (median), "
        f"{goal['cold_s']:.3f} s cold: {verdict}"
    )
    minimal = [r for r in rows if r.get("model", "").startswith("minimal")]
    if minimal:
        lines.append(
            "- radCAD's own cost here (minimal model): "
            + ", ".join(f"{r['run_steps_per_s']:,.0f} run-steps/s {r['engine']}" for r in minimal)
            + "; the reference's small model: about 60,000."
        )
    lines.append(
        "- radCAD wall = Experiment.run() alone (not the venv's start, nor reading its results "
        "into arrays); one call each. evch wall = simulate(), median of the repeats."
    )
    noisy = [r for r in rows if r.get("others_cpu_pct", 0) >= NOISY_PCT]
    if noisy:
        lines.append(
            f"- [yellow]other processes used the CPU during {len(noisy)} measurement(s) (up to "
            f"{max(r['others_cpu_pct'] for r in noisy)} % of a core): those figures are low[/]"
        )
    over = [d for ds in agreement.values() for d in ds if not d.ok]
    verdict = "[green]all within tolerance[/]" if not over else f"[red]{len(over)} over[/]"
    lines.append(
        f"- agreement: {verdict} over {len(next(iter(agreement.values())))} metrics, every day "
        f"and path: relative to the value (circulating: to the supply), or to {FLOOR_SHARE:g} x "
        "the metric's largest magnitude when the value is below that"
    )
    return lines


def main(args: argparse.Namespace) -> int:
    started = datetime.now()
    days = round(args.years * 365)
    full = TokenomicsParams().replace(
        {"simulation.paths": args.paths, "simulation.years": days / 365}
    )
    simple = simple_params(args.paths, days)
    simple_small = simple_params(args.radcad_runs, days)

    with console.status(f"radCAD {RADCAD_VERSION} in {VENV} ..."):
        radcad_python(on_status=console.log)

    evch_rows: list[dict[str, Any]] = []
    radcad_rows: list[dict[str, Any]] = []
    radcad_runs: dict[str, Any] = {}
    with progress_bar(console) as progress:
        evch_rows.append(measure_evch("full", full, args.repeat, progress))  # the first call
        evch_rows.append(measure_evch("simple", simple, args.repeat, progress))
        evch_rows.append(measure_evch("simple", simple_small, args.repeat, progress))
        for engine_label, engine in (("defaults", {}), ("tuned", TUNED)):
            row, radcad = measure_radcad(
                "simple", engine_label, engine, simple_small, args.radcad_runs, days, progress
            )
            radcad_rows.append(row)
            radcad_runs[engine_label] = radcad
        for engine_label, engine in (("defaults", {}), ("tuned", TUNED)):
            row, _ = measure_radcad(
                "minimal", engine_label, engine, None, args.radcad_runs, days, progress
            )
            radcad_rows.append(row)
        if not args.no_sweep:
            swept = measure_sweep(args.paths, days, progress)
            if swept is not None:
                evch_rows.append(swept)
    rows = radcad_rows + evch_rows

    ours = simulate(simple_small)
    agreement = {label: compare(ours, run) for label, run in radcad_runs.items()}
    baselines = add_ratios(rows, radcad_rows)

    console.print(render_speed(rows))
    console.print(render_agreement(agreement))
    lines = notes(rows, agreement)
    for line in lines:
        console.print(line)

    ok = all(d.ok for ds in agreement.values() for d in ds)
    report = {
        "benchmark": "tokenomics_model",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions("evch", "numpy", "pydantic"),
        "arguments": vars(args),
        "reference": REFERENCE,
        "simple_model": {"changes": SIMPLE, "left_out": "staking"},
        "goal": {
            "wall_s_below": GOAL_WALL_S,
            "met": goal_met(goal_row(rows)),
        },
        "baselines_run_steps_per_s": baselines,
        "rows": rows,
        "agreement": {
            "tolerance": TOLERANCE,
            "floor_share": FLOOR_SHARE,
            "relative_to": RELATIVE_TO,
            "ok": ok,
            "runs": args.radcad_runs,
            "days": days,
            "metrics": {
                label: [d.__dict__ | {"ok": d.ok} for d in ds] for label, ds in agreement.items()
            },
        },
        "notes": [console.render_str(line).plain for line in lines],
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    console.print(f"results: {out}")
    if not ok:
        console.print("[red bold]the engine and radCAD disagree: see the agreement table[/]")
    return 0 if ok and not any("failed" in r for r in rows) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1_000, help="evch's Monte Carlo paths")
    parser.add_argument("--years", type=float, default=10.0, help="of daily steps")
    parser.add_argument("--repeat", type=int, default=5, help="evch calls after the cold one")
    parser.add_argument(
        "--radcad-runs", type=int, default=20, help="radCAD's runs, and evch's paths beside them"
    )
    parser.add_argument("--no-sweep", action="store_true", help="skip the sweep's timing")
    parser.add_argument("--output", default=str(RESULTS / "tokenomics_model.json"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
