"""Fleet benchmark: N emulated chargers (half OCPP 1.6J, half 2.0.1) against one CSMS process.

    python benchmarks/ocpp_fleet.py [--chargers 1000] [--duration 20] [--target baseline|evch|both]

(`--target all` adds `baseline-sync`, the baseline validating on its event loop as evch does;
`--help` lists the rest.)

For each target the CSMS runs in its own process (`baseline_csms.py`, a plain `ocpp`-library
CSMS, or `evch_csms.py`, the project's CentralSystem on SQLite); this process connects the
fleet of the project's emulated chargers over loopback and measures:

- memory per connection: the CSMS's RSS after the fleet connected minus before, over N;
- saturation: a closed loop, every charger sends its next CALL (Heartbeat or MeterValues)
  as soon as the previous answer arrived, for `--duration` s -> messages/s, p50/p99/max;
- paced: fixed offered loads (`--rates`, default 1,000 and 500 msg/s, each spread evenly over
  the fleet) for `--paced-duration` s each -> achieved rate and p50/p99 at that rate;
- CPU of the CSMS process and of this load generator (both are Python on the same machine:
  when the generator is at ~100 % of a core, it, not the CSMS, bounds the figures).

With `--target both` the two CSMSs run one after the other and a table puts them side by side
with the ratio evch / baseline. Results go to `benchmarks/results/ocpp_fleet.json`, each
CSMS's stderr to `benchmarks/results/ocpp_fleet_<target>.stderr.log`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import re
import resource
import shutil
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from machine import progress_bar
from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger
from ocppj import ConnectionLost

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# What each target runs: a script beside this one and its arguments.
SERVERS = {
    "baseline": ("baseline_csms.py", []),  # the library as shipped: validation in a thread
    "baseline-sync": ("baseline_csms.py", ["--sync-validation"]),  # validation on the loop
    "evch": ("evch_csms.py", []),
}
TARGET_SETS = {"both": ["baseline", "evch"], "all": ["baseline", "baseline-sync", "evch"]}
# The figures the issue compares against (shared/reference/README.md, section ocpp-peers).
REFERENCE = {
    "source": "shared/reference/README.md, ocpp-peers: plain ocpp-library CSMS, this machine",
    "saturated_msgs_per_s": 2000,
    "saturated_msgs_per_s_with_gc_freeze": 3000,
    "kb_per_connection": 22,
    "p99_ms_at_1000_msgs_per_s_5000_connections": [32, 42],
}

# Wide enough for the side-by-side table when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)


# -- measurements ---------------------------------------------------------------------------
@dataclass
class Recorder:
    latencies: list[float] = field(default_factory=list)  # seconds, from send to answer
    answered_at: list[float] = field(default_factory=list)  # perf_counter of each answer
    errors: Counter = field(default_factory=Counter)
    late_sends: int = 0  # paced phase: sends more than 50 ms behind their schedule
    behind: list[float] = field(default_factory=list)  # paced: answer time minus schedule

    @property
    def count(self) -> int:
        return len(self.latencies)


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class CsmsMeter:
    """CPU time of the CSMS process, of this process and of the machine over an interval, and
    the CSMS's time in cyclic garbage collection (it reports it on SIGUSR1)."""

    def __init__(self, process, csms: psutil.Process) -> None:
        self.process = process
        self.csms = csms
        self.me = psutil.Process()

    async def __aenter__(self) -> CsmsMeter:
        self._gc = await gc_snapshot(self.process)
        self._wall = time.perf_counter()
        self._csms = self._busy(self.csms.cpu_times())
        self._me = self._busy(self.me.cpu_times())
        self._machine = psutil.cpu_times()
        return self

    async def __aexit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._wall
        self.csms_pct = 100 * (self._busy(self.csms.cpu_times()) - self._csms) / wall
        self.generator_pct = 100 * (self._busy(self.me.cpu_times()) - self._me) / wall
        machine = psutil.cpu_times()
        total = sum(machine) - sum(self._machine)
        idle = (machine.idle + machine.iowait) - (self._machine.idle + self._machine.iowait)
        self.machine_pct = 100 * (1 - idle / total) if total > 0 else 0.0
        steal = getattr(machine, "steal", 0.0) - getattr(self._machine, "steal", 0.0)
        self.steal_pct = 100 * steal / total if total > 0 else 0.0
        after = await gc_snapshot(self.process)
        if self._gc is None or after is None:
            self.gc_pct, self.gc_collections = None, None
        else:
            spent = sum(after["seconds"]) - sum(self._gc["seconds"])
            self.gc_pct = 100 * spent / wall
            self.gc_collections = [
                a - b for a, b in zip(after["collections"], self._gc["collections"], strict=True)
            ]

    @staticmethod
    def _busy(times) -> float:
        return times.user + times.system


async def gc_snapshot(process) -> dict | None:
    """The CSMS's cumulative GC time: it prints `GC {json}` on stdout when sent SIGUSR1."""
    process.send_signal(signal.SIGUSR1)
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 10)
    except TimeoutError:
        return None
    return json.loads(line[3:]) if line.startswith(b"GC ") else None


def phase_summary(recorder: Recorder, wall_s: float, cpu: CsmsMeter, **extra) -> dict:
    ordered = sorted(recorder.latencies)
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    summary = {
        "messages": recorder.count,
        "wall_s": round(wall_s, 2),
        "msgs_per_s": round(recorder.count / wall_s, 1) if wall_s > 0 else 0.0,
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
        "errors": dict(recorder.errors),
        "csms_cpu_pct": round(cpu.csms_pct, 1),
        "csms_gc_pct": None if cpu.gc_pct is None else round(cpu.gc_pct, 1),
        "csms_gc_collections": cpu.gc_collections,
        "generator_cpu_pct": round(cpu.generator_pct, 1),
        "machine_cpu_pct": round(cpu.machine_pct, 1),
        "machine_steal_pct": round(cpu.steal_pct, 1),  # a VM's CPU taken by its host
    }
    summary.update(extra)
    # Answers per second of the phase: a CSMS that slows down as it runs shows here.
    if recorder.answered_at:
        start = recorder.answered_at[0]
        buckets = Counter(int(t - start) for t in recorder.answered_at)
        summary["msgs_per_s_by_second"] = [buckets.get(i, 0) for i in range(max(buckets) + 1)]
    return summary


# -- the messages ---------------------------------------------------------------------------
def wire_time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def next_message(v16: bool, n: int):
    """Alternately a Heartbeat and a MeterValues with one energy register sample."""
    if n % 2 == 0:
        return call16.Heartbeat() if v16 else call201.Heartbeat()
    if v16:
        return call16.MeterValues(
            connector_id=1,
            meter_value=[
                {
                    "timestamp": wire_time(),
                    "sampled_value": [
                        {"value": "123", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                    ],
                }
            ],
        )
    return call201.MeterValues(
        evse_id=1,
        meter_value=[
            {
                "timestamp": wire_time(),
                "sampled_value": [{"value": 123.0, "measurand": "Energy.Active.Import.Register"}],
            }
        ],
    )


async def send_one(charger: EmulatedCharger, payload, recorder: Recorder) -> float | None:
    """One CALL; its latency in seconds, or None (counted by kind) when it failed."""
    started = time.perf_counter()
    try:
        await charger.request(payload)
    except OCPPError as error:
        recorder.errors[f"CALLERROR {error.code}"] += 1
    except ConnectionLost:
        recorder.errors["connection lost"] += 1
        await asyncio.sleep(0.5)  # it reconnects in the background; do not spin meanwhile
    except TimeoutError:
        recorder.errors["timeout"] += 1
    else:
        answered = time.perf_counter()
        latency = answered - started
        recorder.latencies.append(latency)
        recorder.answered_at.append(answered)
        return latency
    return None


# -- load shapes ----------------------------------------------------------------------------
async def closed_loop(charger, index: int, deadline: float, max_count: int, recorder: Recorder):
    """Send, await the answer, send again: until `deadline` or `max_count` messages."""
    v16 = charger.config.ocpp_version == "1.6"
    loop = asyncio.get_running_loop()
    for n in range(index, index + max_count):
        if loop.time() >= deadline:
            return
        await send_one(charger, next_message(v16, n), recorder)


async def paced_loop(
    charger,
    index: int,
    first: float,
    period: float,
    deadline: float,
    max_count: int,
    recorder: Recorder,
):
    """One message every `period` s from `first` on, until `deadline` or `max_count` messages."""
    v16 = charger.config.ocpp_version == "1.6"
    loop = asyncio.get_running_loop()
    scheduled = first
    for n in range(index, index + max_count):
        if scheduled >= deadline:
            return
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            recorder.late_sends += 1
        if await send_one(charger, next_message(v16, n), recorder) is not None:
            recorder.behind.append(loop.time() - scheduled)
        scheduled += period


async def timed_phase(
    progress: Progress, label: str, seconds: float, recorder: Recorder, runners: list
) -> float:
    """Run the load tasks with a progress bar that shows the live message rate; wall time."""
    task = progress.add_task(label, total=round(seconds, 1))
    started = time.perf_counter()
    gathered = asyncio.gather(*runners)
    while not gathered.done():
        await asyncio.wait([gathered], timeout=0.5)
        elapsed = time.perf_counter() - started
        progress.update(
            task,
            completed=min(elapsed, seconds),
            description=f"{label}  {recorder.count / elapsed:,.0f} msg/s"
            f"  errors {sum(recorder.errors.values())}",
        )
    gathered.result()
    progress.update(task, completed=seconds)
    return time.perf_counter() - started


# -- one target -----------------------------------------------------------------------------
async def start_csms(target: str, log_path: Path, profile: Path | None):
    script, extra = SERVERS[target]
    command = [sys.executable, str(HERE / script), "--port", "0", *extra]
    if profile is not None:
        command += ["--profile", str(profile)]
    log_file = open(log_path, "w")  # noqa: ASYNC230 (once, before any load)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=log_file, cwd=HERE
    )
    log_file.close()
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
    except TimeoutError:
        process.kill()
        raise RuntimeError(f"{target} CSMS did not start; see {log_path}") from None
    match = re.match(rb"LISTENING (\d+)", line)
    if match is None:
        await process.wait()
        raise RuntimeError(f"{target} CSMS failed to start: {line!r}; see {log_path}")
    return process, int(match[1])


async def start_py_spy(target: str, phase: str, pid: int, seconds: float, args):
    """With --py-spy: sample the CSMS's stacks (all threads, collapsed) during a phase."""
    if not args.py_spy:
        return None
    exe = shutil.which("py-spy")
    if exe is None:
        raise RuntimeError("--py-spy needs py-spy on PATH (pip install py-spy)")
    out = RESULTS / f"ocpp_fleet_{target}.{phase}.py-spy-{args.py_spy}.txt"
    process = await asyncio.create_subprocess_exec(
        exe,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "100",
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(out),
        *(["--gil"] if args.py_spy == "gil" else []),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return process, out


async def finish_py_spy(sampler) -> dict | None:
    if sampler is None:
        return None
    process, out = sampler
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode != 0 or not out.exists():
        return {"failed": stderr.decode(errors="replace")[-2000:]}
    return {"stacks": str(out.relative_to(HERE.parent)), "top": hot_frames(out)}


def hot_frames(path: Path, limit: int = 25) -> list[tuple[str, float]]:
    """The functions (by file and name) on the most sampled stacks, inclusive, in %."""
    inclusive: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";"):
            name = re.sub(r":\d+\)$", ")", frame)  # one entry per function, not per line
            if name not in seen:
                seen.add(name)
                inclusive[name] += int(count)
    return [(name, round(100 * n / total, 1)) for name, n in inclusive.most_common(limit)]


async def stop_csms(process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
    return process.returncode


async def connect_fleet(progress: Progress, url: str, args) -> tuple[list, list]:
    """Power on the fleet in batches; (online chargers, chargers that never came online)."""
    chargers = [
        emulated_charger(
            ChargerConfig(
                charger_id=f"BENCH{i:05d}",
                csms_url=url,
                ocpp_version="1.6" if i % 2 == 0 else "2.0.1",
                meter_interval_s=3600,  # no transactions here; the meter loop stays idle
                response_timeout_s=args.timeout,
            )
        )
        for i in range(args.chargers)
    ]
    task = progress.add_task("connecting", total=len(chargers))
    online, offline = [], []
    for first in range(0, len(chargers), args.connect_batch):
        batch = chargers[first : first + args.connect_batch]
        for charger in batch:
            await charger.power_on()
        outcomes = await asyncio.gather(
            *[c.wait_online(timeout_s=60) for c in batch], return_exceptions=True
        )
        for charger, outcome in zip(batch, outcomes, strict=True):
            (offline if isinstance(outcome, BaseException) else online).append(charger)
        progress.update(
            task, advance=len(batch), description=f"connecting  ({len(offline)} failed)"
        )
    return online, offline


async def run_target(target: str, args, progress: Progress) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"ocpp_fleet_{target}.stderr.log"
    profile = RESULTS / f"ocpp_fleet_{target}.prof" if args.profile else None
    progress.console.rule(f"[bold]{target}[/] CSMS")
    process, port = await start_csms(target, log_path, profile)
    csms = psutil.Process(process.pid)
    url = f"ws://127.0.0.1:{port}/ocpp"
    result: dict = {"target": target, "csms_pid": process.pid, "url": url}
    chargers: list[EmulatedCharger] = []
    everyone: list[EmulatedCharger] = []
    try:
        await asyncio.sleep(1.0)
        rss_idle = csms.memory_info().rss
        connect_started = time.perf_counter()
        chargers, failed = await connect_fleet(progress, url, args)
        everyone = chargers + failed
        connect_s = time.perf_counter() - connect_started
        if not chargers:
            raise RuntimeError(f"no charger came online; see {log_path}")
        # Each charger announces its status right after boot: one Heartbeat each waits behind
        # it (one CALL at a time per connection), so afterwards the fleet is quiet.
        settle = Recorder()
        await asyncio.gather(
            *[
                send_one(
                    c,
                    call16.Heartbeat() if c.config.ocpp_version == "1.6" else call201.Heartbeat(),
                    settle,
                )
                for c in chargers
            ]
        )
        await asyncio.sleep(1.0)
        rss_connected = csms.memory_info().rss
        if args.csms_gc_freeze:  # an experiment: the reference saw GC take ~40 % at saturation
            process.send_signal(signal.SIGUSR2)
            await asyncio.sleep(1.0)
        # The generator's own long-lived objects need no more cyclic GC passes.
        gc.collect()
        gc.freeze()
        result.update(
            chargers_online=len(chargers),
            chargers_failed=len(failed),
            connect_s=round(connect_s, 1),
            connects_per_s=round(len(chargers) / connect_s, 1),
            rss_idle_mb=round(rss_idle / 2**20, 1),
            rss_connected_mb=round(rss_connected / 2**20, 1),
            kb_per_connection=round((rss_connected - rss_idle) / len(chargers) / 1024, 1),
            settle_errors=dict(settle.errors),
        )

        loop = asyncio.get_running_loop()
        n = len(chargers)
        if args.warmup > 0:
            warm = Recorder()
            deadline = loop.time() + args.warmup
            await timed_phase(
                progress,
                "warm-up",
                args.warmup,
                warm,
                [
                    closed_loop(c, i, deadline, args.max_per_charger, warm)
                    for i, c in enumerate(chargers)
                ],
            )

        # The cost of holding the idle fleet (pings, timers), before any load.
        async with CsmsMeter(process, csms) as cpu:
            await asyncio.sleep(2.0)
        result["idle_csms_cpu_pct"] = round(cpu.csms_pct, 1)

        saturated = Recorder()
        sampler = await start_py_spy(target, "saturated", process.pid, args.duration, args)
        async with CsmsMeter(process, csms) as cpu:
            deadline = loop.time() + args.duration
            wall = await timed_phase(
                progress,
                "saturated",
                args.duration,
                saturated,
                [
                    closed_loop(c, i, deadline, args.max_per_charger, saturated)
                    for i, c in enumerate(chargers)
                ],
            )
        result["saturated"] = phase_summary(
            saturated, wall, cpu, py_spy=await finish_py_spy(sampler)
        )

        result["paced"] = []
        for rate in args.rates:
            paced = Recorder()
            period = n / rate
            sampler = await start_py_spy(
                target, f"paced-{rate:g}", process.pid, args.paced_duration, args
            )
            async with CsmsMeter(process, csms) as cpu:
                first = loop.time() + 0.2
                deadline = first + args.paced_duration
                await timed_phase(
                    progress,
                    f"paced {rate:,.0f}/s",
                    args.paced_duration,
                    paced,
                    [
                        paced_loop(
                            c,
                            i,
                            first + period * i / n,
                            period,
                            deadline,
                            args.max_per_charger,
                            paced,
                        )
                        for i, c in enumerate(chargers)
                    ],
                )
            # From the first scheduled send to the last answer: a CSMS that cannot keep up
            # answers its backlog after the deadline, and its achieved rate drops below the offer.
            behind = sorted(paced.behind)
            result["paced"].append(
                phase_summary(
                    paced,
                    loop.time() - first,
                    cpu,
                    offered_msgs_per_s=rate,
                    late_sends=paced.late_sends,
                    p99_from_schedule_ms=round(percentile(behind, 0.99) * 1000, 2)
                    if behind
                    else None,
                    py_spy=await finish_py_spy(sampler),
                )
            )
        result["rss_after_load_mb"] = round(csms.memory_info().rss / 2**20, 1)
    finally:
        gc.unfreeze()
        await asyncio.gather(*[c.power_off() for c in everyone], return_exceptions=True)
        result["csms_exit_code"] = await stop_csms(process)
        result["csms_log"] = str(log_path.relative_to(HERE.parent))
        result["csms_log_summary"] = summarise_log(log_path)
        if profile is not None:
            result["csms_profile"] = str(profile.relative_to(HERE.parent))
    return result


def summarise_log(path: Path) -> dict:
    """Count the CSMS's warnings, errors and tracebacks; keep the first of each kind."""
    text = path.read_text(errors="replace")
    lines = text.splitlines()
    levels = Counter()
    kinds: dict[str, str] = {}
    for line in lines:
        match = re.search(r" (WARNING|ERROR|CRITICAL) ([\w.]+): (.*)", line)
        if match:
            levels[match[1]] += 1
            # Group by message with charger ids and numbers blanked out.
            kind = re.sub(r"BENCH\d+|\d+", "#", f"{match[1]} {match[2]}: {match[3]}")[:160]
            kinds.setdefault(kind, line)
    tracebacks = [block for block in re.split(r"\n(?=\S)", text) if "Traceback" in block]
    return {
        "lines": len(lines),
        "by_level": dict(levels),
        "tracebacks": len(tracebacks),
        "first_traceback": tracebacks[0][-4000:] if tracebacks else None,
        "distinct_messages": dict(list(kinds.items())[:20]),
    }


# -- reporting ------------------------------------------------------------------------------
# label, path into a target's result, format, which way is better (set: a ratio is shown)
Row = tuple[str, tuple, str, str]


def rows(rates: list[float]) -> list[Row]:
    out: list[Row] = [
        ("saturated msgs/s", ("saturated", "msgs_per_s"), "{:,.0f}", "higher"),
        ("saturated p50 ms", ("saturated", "p50_ms"), "{:,.1f}", "lower"),
        ("saturated p99 ms", ("saturated", "p99_ms"), "{:,.1f}", "lower"),
        ("saturated max ms", ("saturated", "max_ms"), "{:,.1f}", ""),
        ("saturated CSMS CPU % (1 core = 100)", ("saturated", "csms_cpu_pct"), "{:.0f}", ""),
        ("saturated CSMS time in GC %", ("saturated", "csms_gc_pct"), "{:.1f}", ""),
        ("saturated generator CPU %", ("saturated", "generator_cpu_pct"), "{:.0f}", ""),
        ("saturated machine CPU % (all cores)", ("saturated", "machine_cpu_pct"), "{:.0f}", ""),
        ("saturated machine steal % (VM host)", ("saturated", "machine_steal_pct"), "{:.1f}", ""),
    ]
    for i, rate in enumerate(rates):
        name = f"paced {rate:,.0f}/s"
        out += [
            (f"{name}: achieved msgs/s", ("paced", i, "msgs_per_s"), "{:,.0f}", ""),
            (f"{name}: p50 ms", ("paced", i, "p50_ms"), "{:,.1f}", "lower"),
            (f"{name}: p99 ms", ("paced", i, "p99_ms"), "{:,.1f}", "lower"),
            (f"{name}: p99 from schedule ms", ("paced", i, "p99_from_schedule_ms"), "{:,.1f}", ""),
            (f"{name}: late sends (>50 ms)", ("paced", i, "late_sends"), "{:,}", ""),
            (f"{name}: CSMS CPU %", ("paced", i, "csms_cpu_pct"), "{:.0f}", ""),
            (f"{name}: CSMS time in GC %", ("paced", i, "csms_gc_pct"), "{:.1f}", ""),
            (f"{name}: generator CPU %", ("paced", i, "generator_cpu_pct"), "{:.0f}", ""),
        ]
    out += [
        ("idle fleet: CSMS CPU %", ("idle_csms_cpu_pct",), "{:.1f}", ""),
        ("KB / connection", ("kb_per_connection",), "{:,.1f}", "lower"),
        ("CSMS RSS connected MB", ("rss_connected_mb",), "{:,.1f}", ""),
        ("CSMS RSS after load MB", ("rss_after_load_mb",), "{:,.1f}", ""),
        ("connects / s", ("connects_per_s",), "{:,.0f}", ""),
        ("chargers online", ("chargers_online",), "{:,}", ""),
        ("request errors", ("request_errors",), "{:,}", ""),
        ("CSMS log warnings+errors", ("log_problems",), "{:,}", ""),
    ]
    return out


def lookup(result: object, path: tuple) -> object:
    value = result
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return None
    return value


def add_derived(result: dict) -> None:
    phases = [result.get("saturated", {}), *result.get("paced", [])]
    result["request_errors"] = sum(sum(p.get("errors", {}).values()) for p in phases)
    summary = result.get("csms_log_summary", {})
    result["log_problems"] = sum(summary.get("by_level", {}).values()) + summary.get(
        "tracebacks", 0
    )


def ratios(results: dict, table_rows: list[Row]) -> dict[str, dict[str, float]]:
    """{"evch / baseline": {row label: ratio}, ...} for each baseline that ran beside evch."""
    out: dict[str, dict[str, float]] = {}
    for base_name in ("baseline", "baseline-sync"):
        if base_name not in results or "evch" not in results:
            continue
        column = out.setdefault(f"evch / {base_name}", {})
        for label, path, _fmt, better in table_rows:
            base, ours = lookup(results[base_name], path), lookup(results["evch"], path)
            if better and isinstance(base, int | float) and isinstance(ours, int | float) and base:
                column[label] = round(ours / base, 2)
    return out


def render(results: dict, ratio: dict, table_rows: list[Row], args) -> Table:
    table = Table(
        title=f"OCPP fleet: {args.chargers:,} chargers (half 1.6J, half 2.0.1), "
        f"{args.duration:g} s saturated, {args.paced_duration:g} s per paced rate"
    )
    table.add_column("metric")
    for target in results:
        table.add_column(target, justify="right")
    for name in ratio:
        table.add_column(name, justify="right")
    if ratio:
        table.add_column("better", justify="center")
    for label, path, fmt, better in table_rows:
        cells = []
        for result in results.values():
            value = lookup(result, path)
            cells.append("-" if value is None else fmt.format(value))
        cells += [f"{column[label]:.2f}" if label in column else "" for column in ratio.values()]
        if ratio:
            cells.append(better if any(label in column for column in ratio.values()) else "")
        table.add_row(label, *cells)
    return table


def notes(results: dict) -> list[str]:
    lines = [
        "Reference (shared/reference/README.md): a plain ocpp-library CSMS on this machine does "
        "~2,000 msg/s saturated (~3,000 with gc.freeze()), ~22 KB/connection, p99 32-42 ms at "
        "1,000 msg/s with 5,000 connections.",
        "Closed loop: every charger has one CALL in flight, so saturated latency is mostly "
        "queueing (Little's law: p50 ~ chargers / msgs/s).",
        "The load generator is Python on the same 2 cores: latencies include its event loop.",
    ]
    for target, result in results.items():
        sat = result.get("saturated", {})
        gen, cs = sat.get("generator_cpu_pct", 0), sat.get("csms_cpu_pct", 0)
        if gen >= 90 and gen > cs:
            lines.append(
                f"[yellow]{target}: the generator ran at {gen:.0f} % of a core vs the "
                f"CSMS's {cs:.0f} %: generator-bound, the CSMS's msgs/s is a lower "
                f"bound.[/]"
            )
        elif cs >= 90:
            lines.append(
                f"{target}: CSMS at {cs:.0f} % of a core (generator {gen:.0f} %): CSMS-bound."
            )
        for paced in result.get("paced", []):
            offered, achieved = paced["offered_msgs_per_s"], paced["msgs_per_s"]
            if achieved < 0.97 * offered or paced["late_sends"] > 0.01 * paced["messages"]:
                lines.append(
                    f"[yellow]{target} did not sustain {offered:,.0f} msg/s (achieved "
                    f"{achieved:,.0f}, {paced['late_sends']:,} late sends): its latency "
                    f"at that rate is a growing backlog, not service time.[/]"
                )
        summary = result.get("csms_log_summary", {})
        if summary.get("by_level") or summary.get("tracebacks"):
            lines.append(
                f"[red]{target}: CSMS stderr has {summary.get('by_level')} and "
                f"{summary.get('tracebacks')} tracebacks; see {result.get('csms_log')}[/]"
            )
    return lines


def machine_info() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "memory_mb": psutil.virtual_memory().total // 2**20,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


async def main(args) -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    RESULTS.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.WARNING,
        filename=RESULTS / "ocpp_fleet_generator.log",
        filemode="w",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    targets = TARGET_SETS.get(args.target, [args.target])
    started = datetime.now()
    results: dict[str, dict] = {}
    with progress_bar(console, refresh_per_second=4) as progress:
        for target in targets:
            try:
                results[target] = await run_target(target, args, progress)
            except Exception as error:  # report what ran; the other target still runs
                console.print_exception()
                results[target] = {"target": target, "failed": repr(error)}
            add_derived(results[target])
    table_rows = rows(args.rates)
    ratio = ratios(results, table_rows)
    console.print(render(results, ratio, table_rows, args))
    for line in notes(results):
        console.print(line)
    report = {
        "benchmark": "ocpp_fleet",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "arguments": vars(args),
        "reference": REFERENCE,
        "results": results,
        "ratios": ratio,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")  # noqa: ASYNC240
    console.print(f"results: {out}")
    return 1 if any("failed" in r for r in results.values()) else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of saturated closed-loop load"
    )
    parser.add_argument(
        "--target",
        choices=[*SERVERS, *TARGET_SETS],
        default="both",
        help="both = baseline then evch; all = baseline, baseline-sync, evch",
    )
    parser.add_argument(
        "--rates",
        default="1000,500",
        help="offered msgs/s of the paced phases (comma-separated), each spread "
        "evenly over the fleet",
    )
    parser.add_argument("--paced-duration", type=float, default=15.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=3.0,
        help="seconds of unrecorded closed-loop load before measuring",
    )
    parser.add_argument(
        "--connect-batch",
        type=int,
        default=50,
        help="chargers powered on together; the next batch waits for them",
    )
    parser.add_argument(
        "--max-per-charger",
        type=int,
        default=100_000,
        help="upper bound on messages per charger and phase",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per CALL")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the CSMS under cProfile (slower; stats in results/)",
    )
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const="gil",
        choices=["gil", "all"],
        help="sample the CSMS with py-spy during each measured phase: only the "
        "thread holding the GIL (gil, the default) or every active thread",
    )
    parser.add_argument(
        "--csms-gc-freeze",
        action="store_true",
        help="experiment: have the CSMS gc.freeze() once the fleet is connected",
    )
    parser.add_argument("--output", default=str(RESULTS / "ocpp_fleet.json"))
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if (
        args.chargers < 2
        or args.duration <= 0
        or args.paced_duration <= 0
        or not all(r > 0 for r in args.rates)
    ):
        parser.error("need at least 2 chargers and positive durations and rate")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
