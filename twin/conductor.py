"""SimPy and asyncio in lock step.

SimPy decides what happens next and when; the OCPP peers are asyncio code talking over real
WebSockets. The conductor takes one SimPy event at a time and, before the next, lets asyncio run
until the instant has settled (`Quiescence`). Processing one event at a time, rather than one
instant, keeps the order of frames independent of socket timing: a seed gives the same run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import simpy

from twin.quiescence import Quiescence


class Conductor:
    def __init__(self, env: simpy.Environment, quiescence: Quiescence) -> None:
        self.env = env
        self.quiescence = quiescence
        self.steps = 0

    def act(self, coroutine: Awaitable[Any]) -> simpy.Event:
        """Start `coroutine` now; the returned SimPy event fires with its result (or error)."""
        done = self.env.event()
        task = asyncio.ensure_future(coroutine)
        task.add_done_callback(lambda task: settle(done, task))
        self.quiescence.track(task)
        return done

    async def catch_up(self) -> float:
        """SimPy's now, where the scenario starts: virtual time stands still until `run`."""
        return self.env.now

    async def run(self, until_s: float, on_step: Callable[[float], None] | None = None) -> None:
        """Process every event up to and including `until_s` seconds of virtual time."""
        self.env.timeout(until_s)  # so that the clock reaches the end even when all is idle
        await self.quiescence.settled()
        while self.env.peek() <= until_s:
            self.env.step()
            self.steps += 1
            await self.quiescence.settled()
            if on_step is not None:
                on_step(self.env.now)


def settle(done: simpy.Event, task: asyncio.Future) -> None:
    """Fire the SimPy event `done` with the finished `task`'s result (or error)."""
    if task.cancelled():
        done.fail(asyncio.CancelledError())
    elif task.exception() is not None:
        done.fail(task.exception())
    else:
        done.succeed(task.result())
