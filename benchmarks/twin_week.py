"""The caltech_week scenario through evch's twin, beside acnportal replaying the same week.

    python benchmarks/twin_week.py [--target all|evch|acnportal] [--repeat 1] [--cap-kw KW]

(acnportal is an optional dependency: `pip install -e ".[dev,bench]"`.)

Four runs of the same recorded week (`scenarios/caltech_week.toml`, 239 sessions, 54 EVSEs):

- **evch uncontrolled**: `twin.runner.run_scenario` on the scenario as it is (policy
  uncontrolled, grid limit 300 kW, never reached) into a temporary run directory: the SimPy
  twin drives 54 emulated OCPP chargers (1.6J and 2.0.1) over real WebSockets against the
  project's central system, which commits every session to SQLite. Its peak sets the cap.
- **evch LLF**: the same scenario with `policy = "llf"` and `grid_limit_kw` = half that peak:
  the CSMS's site planner keeps the site within it with OCPP TxProfiles, re-planning on
  starts, stops, the drivers' departure and energy, and every `replan_interval_s`.
- **acnportal uncontrolled** and **acnportal LLF** (0.3.3, Caltech ACN research simulator):
  the same sessions from the scenario's ACN-Data CSV in `acnsim.Simulator` with 5-minute
  periods, `algorithms.UncontrolledCharging()` under the scenario's grid limit and
  `algorithms.SortedSchedulingAlgo(algorithms.least_laxity_first)` under the same cap as evch
  LLF, on the scenario's site as acnportal sees it (`benchmarks/acn_baseline.py`: one
  continuous 7 kW EVSE per charger at 208 V, one site-wide `Current` constraint at the cap).
  Each EV asks for the session's delivered energy (as the twin's `energy = "delivered"`), with
  an ideal battery sized to it. No acnportal data API (no network).

Each run is timed on the wall clock around everything it does (evch: CSMS start, onboarding,
the week, the run directory's files; acnportal: network, events, simulation, analysis). The
table puts wall time, peak site power and its reduction against the same simulator's
uncontrolled run, and energy delivered against that run, side by side, with evch / acnportal
ratios: acnportal is an in-memory simulator without protocol or database, so the wall time
ratio is the price of the real stack. Results go to `benchmarks/results/twin_week.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from acn_baseline import recorded_sessions, replayed_site, run_acnportal, scenario_variant
from machine import machine_info, versions
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twin.runner import run_scenario
from twin.scenario import load_scenario

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SCENARIO = ROOT / "scenarios" / "caltech_week.toml"
GOAL_WALL_S = 30.0  # the goal for the evch run of the week (uncontrolled)
CAP_SHARE = 0.5  # the cap: half the uncontrolled peak
PARITY = 0.02  # the "delivered energy within 2 %" of acnportal's
SHORT_KWH = 0.15  # a session is "short" when it got more than this below its recorded energy
RUNS = {  # result key -> (simulator, policy), in the order they run
    "evch_uncontrolled": ("evch", "uncontrolled"),
    "evch_llf": ("evch", "llf"),
    "acnportal_uncontrolled": ("acnportal", "uncontrolled"),
    "acnportal_llf": ("acnportal", "llf"),
}
TARGETS = {
    "all": ["evch", "acnportal"],
    "evch": ["evch"],
    "acnportal": ["acnportal"],
}
COLUMNS = {  # result key -> column heading
    "evch_uncontrolled": "evch\nuncontrolled",
    "evch_llf": "evch\nLLF, capped",
    "acnportal_uncontrolled": "acnportal\nuncontrolled",
    "acnportal_llf": "acnportal\nLLF, capped",
}

console = Console(width=None if sys.stdout.isatty() else 150)


# -- the recorded week --------------------------------------------------------------------
def energy_figures(recorded: pd.DataFrame, delivered: dict[str, float]) -> dict:
    """Energy delivered beside the recorded energy: the total shortfall over all sessions, and
    the sessions short by more than SHORT_KWH."""
    missing = {
        row.session_id: row.delivered_kwh - delivered.get(row.session_id, 0.0)
        for row in recorded.itertuples(index=False)
    }
    short = {sid: round(kwh, 3) for sid, kwh in missing.items() if kwh > SHORT_KWH}
    return {
        "energy_kwh": round(sum(delivered.values()), 3),
        "recorded_energy_kwh": round(float(recorded["delivered_kwh"].sum()), 3),
        "shortfall_kwh": round(sum(max(0.0, kwh) for kwh in missing.values()), 3),
        "sessions_short": len(short),
        "short_sessions": short,
    }


# -- evch ---------------------------------------------------------------------------------
def run_evch(loaded, recorded: pd.DataFrame, label: str) -> dict:
    scenario = loaded.scenario
    site = replayed_site(loaded)
    with (
        tempfile.TemporaryDirectory(prefix="evch-twin-week-") as folder,
        Progress(
            TextColumn("[bold]evch {task.description}"),
            BarColumn(),
            TextColumn("{task.fields[at]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(label, total=1.0, at="")

        def advance(simulated_s: float, total_s: float) -> None:
            at = (scenario.start_at + timedelta(seconds=simulated_s)).strftime("%Y-%m-%d %H:%M")
            progress.update(task, completed=simulated_s / total_s, at=at)

        started = time.perf_counter()
        summary = asyncio.run(run_scenario(loaded, Path(folder), advance))
        wall_s = time.perf_counter() - started
        out = Path(folder)
        sessions = pd.read_parquet(out / "sessions.parquet")
        power = pd.read_parquet(out / "site_power.parquet")
        profiles = charging_profiles_sent(out / "ocpp_frames.jsonl")
    power = power[power["site_id"] == site.id]
    delivered = (sessions.groupby("source_session_id")["energy_wh"].sum() / 1000.0).to_dict()
    result = {
        "wall_s": round(wall_s, 3),
        "run_wall_s": round(summary.wall_s, 3),  # as run_scenario measured it
        "policy": site.policy,
        "grid_limit_kw": site.grid_limit_kw,
        "arrivals": summary.arrivals,
        "sessions": summary.sessions,
        "sessions_stored_by_csms": int(sessions["csms_energy_wh"].notna().sum()),
        "refused": summary.refused,
        "simulated_days": summary.simulated_s / 86400.0,
        "frames": summary.frames,
        "charging_profiles_sent": profiles,
        "peak_kw": float(summary.peak_kw.get(site.id, 0.0)),
        # Meter intervals whose instantaneous peak went above the grid limit (the issue: never).
        "intervals_over_limit": int((power["peak_power_kw"] > site.grid_limit_kw + 1e-6).sum()),
        "truncated_at_end": int(sessions["truncated"].sum()),
        "remapped": int(sessions["remapped"].notna().sum()),
    }
    result.update(energy_figures(recorded, delivered))
    # The summary's energy is the meters' (the same figure, from the run's sessions table).
    result["energy_kwh"] = round(summary.energy_kwh, 3)
    return result


def charging_profiles_sent(frames_file: Path) -> int:
    """SetChargingProfile calls the CSMS sent (both protocol versions)."""
    count = 0
    with frames_file.open(encoding="utf-8") as lines:
        for line in lines:
            if "SetChargingProfile" in line:
                record = json.loads(line)
                frame = json.loads(record["frame"])
                count += (
                    record["dir"] == "out" and frame[0] == 2 and frame[2] == "SetChargingProfile"
                )
    return count


# -- acnportal ----------------------------------------------------------------------------
def run_acn(loaded, recorded: pd.DataFrame, algorithm: str, cap_kw: float, period: int) -> dict:
    run = run_acnportal(loaded, recorded, algorithm, cap_kw=cap_kw, period_min=period)
    result = run.figures()
    result["policy"] = algorithm
    result["grid_limit_kw"] = result.pop("cap_kw")
    # Uncontrolled ignores the constraint; LLF keeps to it (acnportal warns when it does not).
    result["intervals_over_limit"] = result.pop("periods_over_cap")
    result.update(energy_figures(recorded, run.delivered_kwh))
    result["energy_kwh"] = round(run.energy_kwh, 3)
    return result


def repeated(run, repeat: int) -> dict:
    """Run `repeat` times; the run with the median wall time, with every wall time listed."""
    runs = [run() for _ in range(repeat)]
    walls = [r["wall_s"] for r in runs]
    median = statistics.median_low(walls)
    result = runs[walls.index(median)]
    if repeat > 1:
        result["wall_s_runs"] = walls
    return result


# -- comparisons --------------------------------------------------------------------------
def add_rates(result: dict) -> None:
    wall = result["wall_s"]
    result["sessions_per_s"] = round(result["sessions"] / wall, 2)
    result["simulated_days_per_s"] = round(result["simulated_days"] / wall, 4)
    result["simulated_days"] = round(result["simulated_days"], 4)
    if "frames" in result:
        result["frames_per_s"] = round(result["frames"] / wall, 1)


def compare(results: dict) -> dict:
    """Each run against its simulator's uncontrolled run, and evch against acnportal."""
    ok = {key: r for key, r in results.items() if "failed" not in r}
    for key, result in ok.items():
        simulator, _ = RUNS[key]
        base = ok.get(f"{simulator}_uncontrolled")
        if base and base["peak_kw"] > 0 and base["energy_kwh"] > 0:
            result["peak_reduction_pct"] = round(
                100.0 * (1 - result["peak_kw"] / base["peak_kw"]), 2
            )
            result["energy_vs_uncontrolled_pct"] = round(
                100.0 * result["energy_kwh"] / base["energy_kwh"], 2
            )
    ratios = {}
    for policy in ("uncontrolled", "llf"):
        evch, acn = ok.get(f"evch_{policy}"), ok.get(f"acnportal_{policy}")
        if not (evch and acn):
            continue
        acn["evch_energy_ratio"] = round(evch["energy_kwh"] / acn["energy_kwh"], 4)
        acn["evch_peak_ratio"] = round(evch["peak_kw"] / acn["peak_kw"], 4)
        acn["evch_wall_ratio"] = round(evch["wall_s"] / acn["wall_s"], 2)
        for what in ("energy", "peak", "wall"):
            ratios[f"evch / acnportal {policy}: {what}"] = acn[f"evch_{what}_ratio"]
    return ratios


def parity(results: dict, cap_kw: float | None) -> dict | None:
    """The issue's check on the capped LLF runs: energy within 2 %, both peaks within the cap."""
    evch, acn = results.get("evch_llf", {}), results.get("acnportal_llf", {})
    if "energy_kwh" not in evch or "energy_kwh" not in acn or cap_kw is None:
        return None
    gap = evch["energy_kwh"] / acn["energy_kwh"] - 1.0
    return {
        "cap_kw": cap_kw,
        "energy_gap_pct": round(100.0 * gap, 2),
        "energy_within_2pct": abs(gap) <= PARITY,
        "evch_peak_within_cap": evch["peak_kw"] <= cap_kw + 1e-6,
        "acnportal_peak_within_cap": acn["peak_kw"] <= cap_kw + 1e-5,
    }


# -- reporting ----------------------------------------------------------------------------
ROWS = [  # label, key, format
    ("policy", "policy", "{}"),
    ("grid limit (cap) kW", "grid_limit_kw", "{:,.1f}"),
    ("wall time s", "wall_s", "{:,.2f}"),
    ("sessions", "sessions", "{:,}"),
    ("sessions / s", "sessions_per_s", "{:,.1f}"),
    ("simulated days / s", "simulated_days_per_s", "{:,.3f}"),
    ("OCPP frames", "frames", "{:,}"),
    ("charging profiles sent", "charging_profiles_sent", "{:,}"),
    ("peak site power kW", "peak_kw", "{:,.1f}"),
    ("peak reduction vs uncontrolled %", "peak_reduction_pct", "{:,.1f}"),
    ("intervals over the limit", "intervals_over_limit", "{:,}"),
    ("energy delivered kWh", "energy_kwh", "{:,.1f}"),
    ("energy vs uncontrolled %", "energy_vs_uncontrolled_pct", "{:,.2f}"),
    ("shortfall vs recorded kWh", "shortfall_kwh", "{:,.1f}"),
    (f"sessions short > {SHORT_KWH:g} kWh", "sessions_short", "{:,}"),
    ("evch / acnportal: energy", "evch_energy_ratio", "{:,.4f}"),
    ("evch / acnportal: peak", "evch_peak_ratio", "{:,.3f}"),
    ("evch / acnportal: wall time", "evch_wall_ratio", "{:,.1f}"),
]


def render(results: dict, loaded, recorded: pd.DataFrame) -> Table:
    scenario = loaded.scenario
    table = Table(
        title=f"{scenario.scenario.name}: {scenario.start_at:%Y-%m-%d} + "
        f"{scenario.scenario.duration_h:g} h, Caltech ACN, {len(recorded)} recorded sessions "
        f"({recorded['delivered_kwh'].sum():,.1f} kWh) replayed"
    )
    table.add_column("metric")
    for key in results:
        table.add_column(COLUMNS[key], justify="right")
    for label, key, fmt in ROWS:
        cells = []
        for result in results.values():
            value = result.get(key)
            cells.append("-" if value is None or "failed" in result else fmt.format(value))
        table.add_row(label, *cells)
    return table


def notes(results: dict, loaded, cap: dict, check: dict | None) -> list[str]:
    lines = []
    evch = results.get("evch_uncontrolled")
    if evch and "failed" not in evch:
        met = evch["wall_s"] < GOAL_WALL_S
        lines.append(
            f"Goal: the evch week (uncontrolled) in under {GOAL_WALL_S:.0f} s wall: "
            + (
                f"[green]met[/] ({evch['wall_s']:.1f} s)"
                if met
                else f"[red]not met[/] ({evch['wall_s']:.1f} s)"
            )
        )
    if cap.get("cap_kw") is not None:
        lines.append(f"Cap of the LLF runs: {cap['cap_kw']:g} kW = {cap['source']}.")
    if check:
        energy = "[green]met[/]" if check["energy_within_2pct"] else "[red]not met[/]"
        peaks = (
            "[green]both within it[/]"
            if check["evch_peak_within_cap"] and check["acnportal_peak_within_cap"]
            else "[red]not both within it[/]"
        )
        lines.append(
            f"Parity (LLF under the cap): evch energy {check['energy_gap_pct']:+.2f} % vs "
            f"acnportal's, within {PARITY:.0%}: {energy}; peaks vs the cap: {peaks}."
        )
    lines.append(
        "acnportal is an in-memory simulator without protocol or database: evch wall / "
        "acnportal wall is the price of the real stack (WebSockets, OCPP 1.6J/2.0.1 frames, "
        "CSMS, SQLite commits, run directory files)."
    )
    site, timing = replayed_site(loaded), loaded.scenario.timing
    evses = sum(spec.evses * spec.count for spec in site.chargers)
    powers = "/".join(f"{kw:g}" for kw in sorted({spec.max_power_kw for spec in site.chargers}))
    lines.append(
        f"Same site on both sides: {evses} EVSEs of {powers} kW and one site-wide limit "
        "(acnportal: one Current constraint at the cap / 208 V, all EVSEs on one phase; no pod "
        "or transformer limits). Differences: evch's EVs have their model's AC rating (e.g. "
        "Nissan Leaf 3.6 kW) and taper above the scenario's taper SoC, while acnportal's "
        "batteries take whatever the EVSE offers; acnportal works in whole periods (arrival and "
        "departure rounded down), evch in continuous time, its planner seeing the energy "
        f"delivered through the meter values (every {timing.meter_interval_s / 60:g} min) and "
        f"re-planning every {timing.replan_interval_s / 60:g} min and on every start, stop and "
        "driver update. Both cut sessions at the end of the run."
    )
    for key, result in results.items():
        if "failed" in result:
            lines.append(f"[red]{key} failed: {result['failed']}[/]")
        elif result.get("warnings"):
            kinds = "; ".join(f"{n} x {kind}" for kind, n in result["warnings"].items())
            lines.append(f"[yellow]{key}: warnings: {kinds}[/]")
    return lines


# -- main ---------------------------------------------------------------------------------
def acnportal_missing() -> bool:
    try:
        import acnportal  # noqa: F401
    except ImportError:
        return True
    return False


def main(args) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(  # the run's warnings and errors, away from the console
        level=logging.WARNING,
        filename=RESULTS / "twin_week.log",
        filemode="w",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    started = datetime.now()
    loaded = load_scenario(args.scenario)
    recorded = recorded_sessions(loaded)
    targets = TARGETS[args.target]
    if "acnportal" in targets and acnportal_missing():
        console.print(
            '[red]acnportal is not installed: pip install -e ".[dev,bench]"; '
            "skipping the baseline.[/]"
        )
        targets = [t for t in targets if t != "acnportal"]
    cap = {"cap_kw": args.cap_kw, "source": "--cap-kw"} if args.cap_kw else {}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="evch-twin-week-scenario-") as folder:
        for key, (simulator, policy) in RUNS.items():
            if simulator not in targets:
                continue
            if policy != "uncontrolled" and cap.get("cap_kw") is None:
                results[key] = {"failed": "no uncontrolled peak to set the cap from"}
                continue
            try:
                if simulator == "evch":
                    run_loaded = loaded
                    if policy != "uncontrolled":
                        run_loaded = load_scenario(
                            scenario_variant(
                                Path(args.scenario),
                                Path(folder),
                                name=f"{loaded.scenario.scenario.name}_{policy}_capped",
                                policy=policy,
                                grid_limit_kw=cap["cap_kw"],
                            )
                        )
                    label = f"{run_loaded.scenario.scenario.name} ({policy})"
                    results[key] = repeated(
                        lambda s=run_loaded, n=label: run_evch(s, recorded, n), args.repeat
                    )
                else:
                    limit = replayed_site(loaded).grid_limit_kw
                    limit = limit if policy == "uncontrolled" else cap["cap_kw"]
                    with console.status(f"acnportal {policy} ..."):
                        results[key] = repeated(
                            lambda p=policy, c=limit: run_acn(loaded, recorded, p, c, args.period),
                            args.repeat,
                        )
            except Exception as error:
                console.print_exception()
                results[key] = {"failed": repr(error)}
                continue
            if policy == "uncontrolled" and cap.get("cap_kw") is None:
                peak_kw = results[key]["peak_kw"]
                cap = {
                    "cap_kw": round(CAP_SHARE * peak_kw, 3),
                    "source": f"{CAP_SHARE:g} x {simulator}'s uncontrolled peak ({peak_kw:g} kW)",
                }
    for result in results.values():
        if "failed" not in result:
            add_rates(result)
    ratios = compare(results)
    check = parity(results, cap.get("cap_kw"))
    console.print(render(results, loaded, recorded))
    lines = notes(results, loaded, cap, check)
    for line in lines:
        console.print(line)
    log_lines = (RESULTS / "twin_week.log").read_text().splitlines()
    evch_wall = results.get("evch_uncontrolled", {}).get("wall_s")
    report = {
        "benchmark": "twin_week",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(
            "evch", "acnportal", "numpy", "pandas", "simpy", "websockets", "sqlalchemy"
        ),
        "arguments": {**vars(args), "scenario": str(Path(args.scenario))},
        "scenario": {
            "name": loaded.scenario.scenario.name,
            "sha256": loaded.sha256,
            "start": loaded.scenario.start_at.isoformat(),
            "end": loaded.scenario.end_at.isoformat(),
            "sessions_file": str(Path(loaded.scenario.arrivals.path).relative_to(ROOT)),
            "recorded_sessions": len(recorded),
            "recorded_energy_kwh": round(float(recorded["delivered_kwh"].sum()), 3),
        },
        "cap": cap,
        "goal": {
            "evch_wall_s_below": GOAL_WALL_S,
            "met": None if not evch_wall else evch_wall < GOAL_WALL_S,
        },
        "parity": check,
        "results": results,
        "ratios": ratios,
        "notes": [console.render_str(line).plain for line in lines],
        "log": {"file": "benchmarks/results/twin_week.log", "lines": len(log_lines)},
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    console.print(f"results: {out}")
    return 1 if any("failed" in r for r in results.values()) else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(SCENARIO), help="scenario TOML file")
    parser.add_argument(
        "--target",
        choices=list(TARGETS),
        default="all",
        help="all = evch uncontrolled and LLF, then acnportal uncontrolled and LLF",
    )
    parser.add_argument(
        "--cap-kw",
        type=float,
        default=None,
        help="cap of the LLF runs (default: half the first uncontrolled run's peak)",
    )
    parser.add_argument("--period", type=int, default=5, help="acnportal period, minutes")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each target; the table shows the one with the median wall time",
    )
    parser.add_argument("--output", default=str(RESULTS / "twin_week.json"))
    args = parser.parse_args(argv)
    if args.period < 1 or args.repeat < 1:
        parser.error("--period and --repeat must be at least 1")
    if args.cap_kw is not None and not args.cap_kw > 0:
        parser.error("--cap-kw must be above 0")
    return args


if __name__ == "__main__":
    sys.exit(main(parse_args()))
