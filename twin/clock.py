"""Virtual time: SimPy owns the clock, and every peer (CSMS and chargers) reads it.

`now()` is the scenario's start plus SimPy's `env.now` seconds. `sleep()` lets an asyncio task
wait in virtual time: it schedules a SimPy timeout whose callback wakes the task, so a charger's
heartbeat or meter loop wakes exactly when the simulation reaches that instant.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import simpy


class VirtualClock:
    def __init__(self, env: simpy.Environment, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the virtual clock needs a timezone-aware start")
        self.env = env
        self.start = start

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.env.now)

    def at(self, moment: datetime) -> float:
        """`moment` as SimPy time (seconds since the start)."""
        return (moment - self.start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        await until(self.env.timeout(max(seconds, 0.0)))


async def until(event: simpy.Event) -> None:
    """Wait, in asyncio, until SimPy processes `event`."""
    woken = asyncio.get_running_loop().create_future()

    def wake(_event: simpy.Event) -> None:
        if not woken.done():  # the waiting task may have been cancelled meanwhile
            woken.set_result(None)

    event.callbacks.append(wake)
    await woken
