"""Real-time stepping: SimPy paced by the wall clock beside asyncio, never blocking it."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from twin.realtime import LagStats, RealtimeClock, RealtimeConductor, SteppedRealtimeEnvironment
from twin.runner import RealtimeOptions, run_scenario
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2025, 1, 6, tzinfo=UTC)


def realtime(speed: float, *, wall_anchored: bool = False):
    env = SteppedRealtimeEnvironment(speed)
    clock = RealtimeClock(env, START, wall_anchored=wall_anchored)
    return env, clock, RealtimeConductor(env, clock)


async def test_events_happen_at_their_wall_time_while_asyncio_runs():
    env, clock, conductor = realtime(speed=20)  # 1 simulated s = 50 ms
    seen: list[tuple[float, float]] = []  # (simulated s, wall s since the start)
    ticks = 0

    def process():
        for _ in range(4):
            yield env.timeout(1)
            seen.append((env.now, time.monotonic() - began))

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    env.process(process())
    clock.go()
    began = time.monotonic()
    other = asyncio.create_task(ticker())
    await conductor.run(4)
    other.cancel()
    assert [at for at, _ in seen] == [1, 2, 3, 4]
    for at_s, wall_s in seen:
        assert at_s / 20 <= wall_s < at_s / 20 + 0.03
    assert ticks >= 20  # the loop kept running between events (0.2 s of 5 ms ticks)
    assert conductor.lag().events == conductor.steps >= 5
    assert conductor.lag().p99_ms < 30


async def test_an_action_resumes_its_process_at_the_wall_clocks_instant():
    env, clock, conductor = realtime(speed=100)  # 50 ms of wall time = 5 simulated s
    resumed: list[float] = []

    def process():
        result = yield conductor.act(asyncio.sleep(0.05, result="done"))
        resumed.append((env.now, result))
        yield env.timeout(10)  # from the wall clock's now, not from the start
        resumed.append((env.now, None))

    env.process(process())
    clock.go()
    await conductor.run(1)  # the run outlasts `until` while the action is open
    assert 5 <= resumed[0][0] < 8 and resumed[0][1] == "done"
    assert len(resumed) == 1
    await conductor.run(20)
    assert 15 <= resumed[1][0] < 18


async def test_the_clock_follows_the_wall_clock_and_sleeps_in_simulated_time():
    _env, clock, conductor = realtime(speed=50)
    assert clock.now() == START  # still: chargers boot before the run starts
    clock.go()
    woke: list[float] = []

    async def sleeper():
        await asyncio.sleep(0.02)  # 1 simulated s
        before = clock.elapsed_s()
        await clock.sleep(2)
        woke.append(clock.elapsed_s() - before)

    task = asyncio.create_task(sleeper())
    await conductor.run(5)
    await task
    assert 2 <= woke[0] < 2.5
    assert 5 <= (clock.now() - START).total_seconds() < 6


async def test_a_wall_anchored_clock_starts_at_the_wall_clocks_now():
    _env, clock, _conductor = realtime(speed=1, wall_anchored=True)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 0.1  # before go, too
    clock.go()
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 0.1
    assert abs((clock.start - datetime.now(UTC)).total_seconds()) < 0.1


def test_lag_quantiles():
    from array import array

    stats = LagStats.of(array("d", [i / 1000 for i in range(1, 101)]))
    assert (stats.events, stats.p50_ms, stats.p99_ms, stats.max_ms) == (100, 50.0, 99.0, 100.0)
    assert LagStats.of(array("d")).events == 0


def test_speed_must_be_positive():
    with pytest.raises(ValueError, match="speed"):
        SteppedRealtimeEnvironment(0)


def test_an_in_process_realtime_run_writes_the_same_run_directory(tmp_path: Path):
    """The HIL lab without its hardware: 15 simulated minutes at speed 600 (1.5 s of wall
    time), the CSMS in-process on the twin's real-time clock and the scenario's dates."""
    text = (ROOT / "scenarios" / "hil_lab.toml").read_text()
    text = text[: text.index("\n[[hardware]]\n")] + text[text.index("\n[ev_population]\n") :]
    text = text.replace("duration_h = 1\n", "duration_h = 0.25\n")
    models = ROOT / "scenarios" / "data" / "ev_models.json"
    text = text.replace('"data/ev_models.json"', f'"{models}"')
    scenario = tmp_path / "lab.toml"
    scenario.write_text(text)
    out = tmp_path / "run"
    summary = asyncio.run(
        run_scenario(load_scenario(scenario), out, realtime=RealtimeOptions(speed=600))
    )
    assert 1.5 <= summary.wall_s < 30
    assert summary.lag is not None and summary.lag.events > 0
    assert summary.real_chargers == ()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["time"] == "realtime" and manifest["realtime"]["csms"] == "in-process"
    # The scenario's dates, from the moment every charger was up (boots take simulated time).
    start = datetime.fromisoformat(manifest["start"])
    booted_s = (start - datetime.fromisoformat("2025-01-06T08:00:00+03:30")).total_seconds()
    assert 0 < booted_s < 120
    assert manifest["hardware"] == []
    sessions = pd.read_parquet(out / "sessions.parquet")
    assert len(sessions) >= 1 and not sessions["real"].any()
    assert (sessions["energy_wh"] == sessions["csms_energy_wh"]).all()
    assert (sessions["energy_wh"] > 0).all()
    power = pd.read_parquet(out / "site_power.parquet")
    assert len(power) == 2 * 15  # two sites, 15 one-minute intervals
