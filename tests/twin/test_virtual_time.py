"""Virtual time: sleeps wake when SimPy reaches them; an instant ends when its exchanges do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import simpy

from twin.clock import VirtualClock
from twin.conductor import Conductor
from twin.quiescence import Quiescence, Stalled

START = datetime(2025, 1, 6, tzinfo=UTC)


async def test_sleepers_wake_in_virtual_time_in_order():
    env = simpy.Environment()
    clock = VirtualClock(env, START)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in [("late", 3600), ("early", 60)]]
    await Conductor(env, Quiescence()).run(7200)
    await asyncio.gather(*tasks)
    assert woke == [
        ("early", START + timedelta(seconds=60)),
        ("late", START + timedelta(seconds=3600)),
    ]
    assert clock.now() == START + timedelta(hours=2)


def test_the_clock_needs_a_timezone():
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(simpy.Environment(), datetime(2025, 1, 6))


async def test_an_instant_settles_only_after_the_answer_and_its_follow_up():
    quiescence = Quiescence()
    charger = quiescence.observer("charger")
    follow_up_done = asyncio.Event()

    async def exchange() -> None:
        charger("CP", "out", '[2,"7","Heartbeat",{}]')
        await asyncio.sleep(0.05)  # the CSMS works on it (e.g. a database write)
        charger("CP", "in", '[3,"7",{"currentTime":"2025-01-06T00:00:00Z"}]')
        for _ in range(3):  # the caller's continuation takes a few loop turns
            await asyncio.sleep(0)
        follow_up_done.set()

    task = asyncio.create_task(exchange())
    await asyncio.sleep(0)
    await quiescence.settled()
    assert follow_up_done.is_set()
    await task


async def test_an_unanswered_call_is_reported_not_waited_for_forever():
    quiescence = Quiescence(stall_timeout_s=0.2)
    quiescence.observer("csms")("CP-9", "out", '[2,"42","Reset",{"type":"Soft"}]')
    with pytest.raises(Stalled, match="CP-9"):
        await quiescence.settled()
    quiescence.forget("CP-9")  # its connection is gone: nothing left in flight
    await quiescence.settled()


async def test_actions_started_by_the_twin_resolve_their_simpy_events():
    env = simpy.Environment()
    conductor = Conductor(env, Quiescence())
    results = []

    async def authorize() -> bool:
        await asyncio.sleep(0.01)
        return True

    def driver():
        results.append((yield conductor.act(authorize())))
        results.append(env.now)

    env.process(driver())
    await conductor.run(10)
    assert results == [True, 0]  # the answer came within the same instant
