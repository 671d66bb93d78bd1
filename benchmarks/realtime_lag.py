"""Real-time accuracy of the twin: how far its events lag behind the wall clock.

    python benchmarks/realtime_lag.py [--chargers 500] [--minutes 5] [--speed 1]

`evch serve` runs as a separate process (SQLite, `--auto-register`), as a HIL rig's CSMS
would. In this process the twin runs a generated scenario in real time against it
(`twin.runner.run_scenario` with `RealtimeOptions`, exactly what `evch run --realtime
--csms-url ... --api-url ...` does): the chargers, their meter keys, the site and the drivers
are registered over the REST API, then the emulated chargers (half OCPP 1.6J, half 2.0.1) boot
one by one and the clock starts. For `--minutes` of wall time (at speed 1), EVs arrive (about
one every 1.2 s), plug in, authorise, start, draw power under their charging curve (re-decided
every simulated minute), send MeterValues every minute and heartbeats every 5 minutes, and
leave.

The lag of an event is the wall time between its due instant (`real_start + t / speed`) and
the moment the twin starts processing it; every SimPy event of the run is counted (arrivals,
power steps, the chargers' meter and heartbeat timers, the ends of OCPP exchanges). Results
go to `benchmarks/results/realtime_lag.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from machine import free_port, machine_info, versions
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
ADMIN_TOKEN = "realtime-lag-benchmark"

sys.path.insert(0, str(ROOT))
from twin.runner import RealtimeOptions, run_scenario  # noqa: E402
from twin.scenario import load_scenario  # noqa: E402

SCENARIO = """\
[scenario]
name = "realtime-lag"
description = "{chargers} emulated chargers against an external CSMS, in real time"
start = 2025-01-06T08:00:00
time_zone = "UTC"
duration_h = {hours}
seed = 11

[timing]
meter_interval_s = 60
heartbeat_interval_s = 300
power_step_s = 60
replan_interval_s = 300

[[sites]]
id = "bench"
name = "Benchmark car park"
location = {{ latitude = 52.5, longitude = 13.4 }}
currency = "EUR"
grid_limit_kw = 20000
policy = "uncontrolled"

[[sites.chargers]]
id = "rt16"
protocol = "1.6"
max_power_kw = 11
count = {half}

[[sites.chargers]]
id = "rt201"
protocol = "2.0.1"
max_power_kw = 22
count = {other_half}

[ev_population]
models_file = "{models}"

[drivers]
count = 600

[arrivals]
kind = "generated"
rate_per_hour = [{rates}]
stay_h = {{ mean = 0.5, sd = 0.2, min = 0.1, max = 2 }}
energy_kwh = {{ mean = 15, sd = 5, min = 2, max = 60 }}
"""


def scenario_file(folder: Path, chargers: int, minutes: float) -> Path:
    path = folder / "realtime_lag.toml"
    half = chargers // 2
    path.write_text(
        SCENARIO.format(
            chargers=chargers,
            hours=round(minutes / 60, 6),
            half=half,
            other_half=chargers - half,
            models=ROOT / "scenarios" / "data" / "ev_models.json",
            rates=", ".join(["3000"] * 24),  # ~50 arrivals a minute
        )
    )
    return path


def start_csms(folder: Path) -> tuple[subprocess.Popen, str, str]:
    ocpp_port, api_port = free_port(), free_port()
    serve = subprocess.Popen(
        [
            sys.executable, "-c", "from evch.cli import app; app()", "serve",
            "--ocpp-port", str(ocpp_port), "--api-port", str(api_port), "--auto-register",
            "--database-url", f"sqlite:///{folder / 'csms.db'}",
            "--admin-token", ADMIN_TOKEN, "--log-level", "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    api_url = f"http://127.0.0.1:{api_port}/api/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api_url}/health").is_success:
                return serve, f"ws://127.0.0.1:{ocpp_port}/ocpp", api_url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    serve.kill()
    raise RuntimeError("evch serve did not start")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=5.0, help="simulated minutes")
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="realtime-lag-") as tmp:
        folder = Path(tmp)
        loaded = load_scenario(scenario_file(folder, args.chargers, args.minutes))
        serve, csms_url, api_url = start_csms(folder)
        try:
            options = RealtimeOptions(
                speed=args.speed, csms_url=csms_url, api_url=api_url, api_token=ADMIN_TOKEN
            )
            console.print(
                f"{args.chargers} chargers, {args.minutes:g} simulated min at speed "
                f"{args.speed:g}, CSMS {csms_url} (separate process)"
            )
            started, cpu_before = time.perf_counter(), _cpu_s()
            summary = asyncio.run(run_scenario(loaded, folder / "run", realtime=options))
            wall_s = time.perf_counter() - started
            twin_cpu_s = _cpu_s() - cpu_before
            manifest = json.loads((folder / "run" / "manifest.json").read_text())
        finally:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
    lag, with_end = summary.lag, summary.lag_with_end
    assert lag is not None and with_end is not None
    run_s = args.minutes * 60 / args.speed
    result = {
        "benchmark": "realtime_lag",
        "chargers": args.chargers,
        "simulated_min": args.minutes,
        "speed": args.speed,
        "lag_ms": lag.as_dict(),  # events due before the end of the run
        "lag_ms_with_end": with_end.as_dict(),  # ... and those of the end and the wind-down
        "events": with_end.events,
        "events_per_wall_s": round(lag.events / run_s, 1),
        "arrivals": summary.arrivals,
        "sessions": summary.sessions,
        "refused": summary.refused,
        "frames": summary.frames,
        "energy_kwh": round(summary.energy_kwh, 3),
        "wall_s_total": round(wall_s, 1),
        "wall_s_onboarding": round(wall_s - run_s, 1),
        "twin_cpu_s": round(twin_cpu_s, 1),  # onboarding included
        "twin_cpu_share": round(twin_cpu_s / wall_s, 3),  # of one core
        "steps": manifest["steps"],
        "machine": machine_info(),
        "versions": versions("simpy", "websockets", "ocpp", "httpx", "fastapi", "uvicorn"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "realtime_lag.json").write_text(json.dumps(result, indent=2) + "\n")

    title = f"Twin events behind the wall clock ({args.chargers} chargers, speed {args.speed:g})"
    table = Table(title=title)
    table.add_column("events")
    for column in ("count", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"):
        table.add_column(column, justify="right")
    for name, stats in (("due before the end", lag), ("all, with the end", with_end)):
        figures = (stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.max_ms, stats.mean_ms)
        table.add_row(name, f"{stats.events:,}", *(f"{v:,.1f}" for v in figures))
    console.print(table)
    console.print(
        f"{result['events_per_wall_s']:,} events/s during the run; at the end every EV still "
        "there leaves at once (stop, unplug), the wind-down after it is counted in the 2nd row"
    )
    console.print(
        f"{summary.arrivals} arrivals, {summary.sessions} sessions, {summary.frames:,} frames; "
        f"onboarding (REST registration, {args.chargers} boots) {result['wall_s_onboarding']} s; "
        f"the twin used {twin_cpu_s:.1f} s of CPU ({twin_cpu_s / wall_s:.0%} of a core); "
        f"results in {RESULTS / 'realtime_lag.json'}"
    )


if __name__ == "__main__":
    main()
