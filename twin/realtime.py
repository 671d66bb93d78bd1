"""Real time: SimPy paced by the wall clock, stepped from the asyncio loop without blocking it.

`simpy.rt.RealtimeEnvironment` maps simulated seconds to wall seconds (`factor` = 1 / speed)
and its `step()` sleeps until the next event is due. The twin cannot sleep in `step()`: the OCPP
peers are asyncio code on the same thread. `RealtimeConductor` therefore steps from an asyncio
task that waits until the next event is due (woken early when something schedules an earlier
one), and only then calls `step()`, which no longer needs to sleep. Every step yields to the
loop, so sockets are served between events.

A run: `clock.go()` and `conductor.begin()` before the chargers boot (their meter and heartbeat
timers then follow their boots instead of all falling due at one instant), `catch_up()` once
they are up (the scenario starts there), `run(end_s)` to the end, and on until the actions
started at the end (an EV unplugged, its transaction stopped) are done.

Time seen from asyncio code runs on with the wall clock between events: `RealtimeClock.now()`
is the start plus the wall time elapsed since `go()` (times the speed), never `env.now`, which
only moves when an event is processed. What asyncio code schedules in SimPy (a charger's
`sleep`, the end of a twin action) is placed at that wall-clock instant, not at the last
event's time, so nothing drifts behind the wall clock by the time the OCPP exchanges take.

The lag of an event is how late (wall seconds) it was processed after its due wall time.
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Any

import simpy
import simpy.rt

from twin.clock import until
from twin.conductor import settle


class SteppedRealtimeEnvironment(simpy.rt.RealtimeEnvironment):
    """A `RealtimeEnvironment` that tells its conductor when an event is scheduled."""

    def __init__(self, speed: float) -> None:
        if not speed > 0 or math.isinf(speed):
            raise ValueError(f"the speed factor must be a positive number, got {speed}")
        super().__init__(factor=1.0 / speed, strict=False)
        self.speed = speed
        self.scheduled: Callable[[], None] | None = None

    def schedule(self, event: simpy.Event, priority: int = simpy.core.NORMAL, delay: float = 0):
        super().schedule(event, priority, delay)
        if self.scheduled is not None:
            self.scheduled()

    def due_at(self, at_s: float) -> float:
        """The `time.monotonic()` instant when simulated time `at_s` is due."""
        return self.real_start + (at_s - self.env_start) * self.factor


class RealtimeClock:
    """The twin's clock in a real-time run (the `Clock` of the CSMS and of the chargers).

    Before `go()` (while chargers boot) the clock stands still at `start`, or follows the wall
    clock when the run is anchored to it; `go()` makes simulated second 0 now.
    """

    def __init__(
        self, env: SteppedRealtimeEnvironment, start: datetime, *, wall_anchored: bool
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the real-time clock needs a timezone-aware start")
        self.env = env
        self.start = start
        self.wall_anchored = wall_anchored
        self.running = False

    def go(self) -> None:
        """Start simulated time now (anchored runs: `start` becomes the wall clock's now)."""
        if self.wall_anchored:
            self.start = datetime.now(UTC)
        self.env.sync()
        self.running = True

    def elapsed_s(self) -> float:
        """Simulated seconds since the start, from the wall clock (never behind `env.now`)."""
        if not self.running:
            return self.env.now
        return max(self.env.now, (monotonic() - self.env.real_start) * self.env.speed)

    def now(self) -> datetime:
        if not self.running and self.wall_anchored:
            return datetime.now(UTC)
        return self.start + timedelta(seconds=self.elapsed_s())

    def at(self, moment: datetime) -> float:
        """`moment` as SimPy time (seconds since the start)."""
        return (moment - self.start).total_seconds()

    def timeout(self, seconds: float, value: Any = None) -> simpy.Timeout:
        """A SimPy timeout `seconds` after the wall clock's now (not after `env.now`)."""
        ahead_s = self.elapsed_s() - self.env.now
        return self.env.timeout(ahead_s + max(seconds, 0.0), value)

    async def sleep(self, seconds: float) -> None:
        await until(self.timeout(seconds))


@dataclass(frozen=True)
class LagStats:
    """How late events were processed after their wall-clock due time (milliseconds)."""

    events: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, lags_s: array) -> LagStats:
        if not lags_s:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        ordered = sorted(lags_s)

        def quantile(q: float) -> float:
            return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1000.0

        return cls(
            events=len(ordered),
            p50_ms=round(quantile(0.50), 3),
            p90_ms=round(quantile(0.90), 3),
            p99_ms=round(quantile(0.99), 3),
            max_ms=round(ordered[-1] * 1000.0, 3),
            mean_ms=round(sum(ordered) / len(ordered) * 1000.0, 3),
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class RealtimeConductor:
    """SimPy in real time beside asyncio: the `Conductor` of real-time runs."""

    def __init__(self, env: SteppedRealtimeEnvironment, clock: RealtimeClock) -> None:
        self.env = env
        self.clock = clock
        self.steps = 0
        self.lags_s = array("d")  # per processed event, wall seconds behind its due time
        self.due_s = array("d")  # ... and the simulated time it was due
        self._woken = asyncio.Event()
        self._open_acts = 0  # actions whose SimPy event has not been processed yet
        self._until_s = math.inf
        self._on_step: Callable[[float], None] | None = None
        self._stepping: asyncio.Task | None = None

    def act(self, coroutine: Awaitable[Any]) -> simpy.Event:
        """Start `coroutine` now; the returned SimPy event fires, at the wall-clock instant the
        coroutine ended, with its result (or error)."""
        done = self.env.event()
        self._open_acts += 1
        done.callbacks.append(self._act_processed)
        task = asyncio.ensure_future(coroutine)

        def ended(task: asyncio.Future) -> None:  # settled at the wall clock's now, in SimPy
            self.clock.timeout(0).callbacks.append(lambda _event: settle(done, task))

        task.add_done_callback(ended)
        return done

    def _act_processed(self, _event: simpy.Event) -> None:
        self._open_acts -= 1

    def begin(self) -> None:
        """Start processing events now, with no end yet (chargers boot in simulated time, so
        that their timers are spread as their boots are): `run` gives the end."""
        if self._stepping is None:
            self._stepping = asyncio.create_task(self._step_in_real_time(), name="simpy-rt")

    async def catch_up(self) -> float:
        """Return once SimPy's clock has reached the wall clock's now (`begin` first), so that
        processes started next begin now rather than at the last event's time; SimPy's now."""
        await until(self.clock.timeout(0))
        return self.env.now

    async def run(self, until_s: float, on_step: Callable[[float], None] | None = None) -> None:
        """Process every event up to and including `until_s`, each when the wall clock says.

        What the last instants started (an EV unplugged at the end, its transaction stopped)
        ends after `until_s` in wall-clock time: events go on until no action is open.
        """
        self.env.timeout(until_s - self.env.now)  # the run lasts until the end, even idle
        self._until_s, self._on_step = until_s, on_step
        self._woken.set()  # the stepping loop may be waiting for an end it now has
        self.begin()
        assert self._stepping is not None
        try:
            await self._stepping
        finally:
            self._stepping = None

    async def _step_in_real_time(self) -> None:
        env = self.env
        env.scheduled = self._woken.set
        try:
            while (at_s := env.peek()) <= self._until_s or self._open_acts:
                wait_s = env.due_at(at_s) - monotonic()
                if wait_s > 0:
                    self._woken.clear()
                    try:
                        async with asyncio.timeout(None if math.isinf(wait_s) else wait_s):
                            await self._woken.wait()  # something earlier may come up
                    except TimeoutError:
                        pass
                    continue
                self.lags_s.append(abs(wait_s))  # due (wait_s <= 0): how late it is
                self.due_s.append(at_s)
                env.step()  # due: RealtimeEnvironment.step does not sleep
                self.steps += 1
                if self._on_step is not None:
                    self._on_step(min(env.now, self._until_s))
                await asyncio.sleep(0)  # serve the sockets between events
        finally:
            env.scheduled = None

    def lag(self, before_s: float = math.inf) -> LagStats:
        """The lag of the events due before `before_s` (default: all of them)."""
        if before_s == math.inf:
            return LagStats.of(self.lags_s)
        pairs = zip(self.lags_s, self.due_s, strict=True)
        return LagStats.of(array("d", (lag for lag, due_s in pairs if due_s < before_s)))
