"""When is an instant of virtual time finished? When every OCPP exchange it triggered is done.

The twin may advance SimPy's clock only once nothing started at the current instant is still
in flight. Three things can be in flight:

- CALLs: each peer's outgoing CALL is open until that peer has read its CALLRESULT/CALLERROR.
  Both peers report their frames here, so a CALL is covered from the moment it is written,
  while the other side works on it (database writes included) until its answer is read.
- Actions: coroutines the twin started (plug in, authorise, ...) until they return.
- Connection attempts: a charger's TCP and WebSocket handshake.
- Work in other threads: the central system's database operations, for instance when it
  publishes prices on its own timer, outside any exchange.

Between those, the work a finished exchange wakes up (the caller's continuation, a follow-up
CALL) sits in the event loop's ready queue, so the instant is over only when the loop has
nothing ready either. A task asleep on the virtual clock is waiting for a later instant and
does not count.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable

from ocppj import FrameObserver

# Message type and id are all we need of a frame: read them without parsing the payload.
_FRAME_HEAD = re.compile(r'\s*\[\s*([234])\s*,\s*"((?:[^"\\]|\\.)*)"')
CALL, CALLRESULT, CALLERROR = "2", "3", "4"


class Stalled(RuntimeError):
    """An exchange did not complete in real time; the run cannot go on deterministically."""


class Quiescence:
    def __init__(self, stall_timeout_s: float = 60.0) -> None:
        self._open_calls: set[tuple[str, str, str]] = set()  # (side, charger id, message id)
        self._actions: set[asyncio.Future] = set()
        self._connecting: Callable[[], Iterable[str]] = lambda: ()
        self._busy: Callable[[], bool] = lambda: False
        self._changed = asyncio.Event()
        self._stall_timeout_s = stall_timeout_s

    def observer(self, side: str, then: FrameObserver | None = None) -> FrameObserver:
        """A frame observer for one peer (`side`), passing each frame on to `then`."""

        def observe(charger_id: str, direction: str, frame: str) -> None:
            head = _FRAME_HEAD.match(frame)
            if head is not None:
                kind, message_id = head.groups()
                if direction == "out" and kind == CALL:
                    self._open_calls.add((side, charger_id, message_id))
                elif direction == "in" and kind != CALL:
                    self._open_calls.discard((side, charger_id, message_id))
                    if not self._open_calls:
                        self._changed.set()
            if then is not None:
                then(charger_id, direction, frame)

        return observe

    def watch_connections(self, connecting: Callable[[], Iterable[str]]) -> None:
        """`connecting()` names the chargers whose connection attempt is under way."""
        self._connecting = connecting

    def watch_threads(self, busy: Callable[[], bool]) -> None:
        """`busy()` says whether work the loop awaits is running in another thread."""
        self._busy = busy

    def track(self, action: asyncio.Future) -> None:
        self._actions.add(action)
        action.add_done_callback(self._action_done)

    def _action_done(self, action: asyncio.Future) -> None:
        self._actions.discard(action)
        if not self._actions:
            self._changed.set()

    def forget(self, charger_id: str) -> None:
        """The charger's connection is gone: its open CALLs will never be answered."""
        self._open_calls = {call for call in self._open_calls if call[1] != charger_id}
        self._changed.set()

    async def settled(self) -> None:
        """Return once nothing started at the current instant is still in flight."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._stall_timeout_s
        quiet_rounds = 0
        while True:
            if self._open_calls or self._actions:
                quiet_rounds = 0
                self._changed.clear()
                try:
                    async with asyncio.timeout_at(deadline):
                        await self._changed.wait()
                except TimeoutError:
                    raise Stalled(self._describe()) from None
                continue
            await asyncio.sleep(0)
            # CPython's loop keeps runnable callbacks in `_ready`; empty twice in a row means
            # no continuation of a finished exchange is left to run.
            if getattr(loop, "_ready", ()):
                quiet_rounds = 0
                continue
            quiet_rounds += 1
            if quiet_rounds < 2:
                continue
            if not self._busy() and not any(True for _ in self._connecting()):
                return
            quiet_rounds = 0
            if loop.time() > deadline:
                raise Stalled(self._describe())
            await asyncio.sleep(0.001)  # handshakes and queries are short: poll, not hook

    def _describe(self) -> str:
        calls = sorted(self._open_calls)[:10]
        connecting = sorted(self._connecting())[:10]
        return (
            f"no progress for {self._stall_timeout_s:.0f} s: open CALLs {calls}, "
            f"{len(self._actions)} twin actions, connecting {connecting}"
        )
