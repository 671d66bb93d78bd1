"""The outbox of transaction-related messages.

OCPP requires that a charger never loses transaction messages (start, meter values, stop):
while offline they wait here, and once connected they go out one by one, in order. A message
leaves the outbox only when the central system answered it (or refused it for good).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ocpp.exceptions import OCPPError

log = logging.getLogger(__name__)

Send = Callable[[Any], Awaitable[Any]]


@dataclass
class _Queued:
    # Built at send time: a 1.6 stop needs the transaction id that the start's answer brings.
    build: Callable[[], Any]
    on_reply: Callable[[Any], Awaitable[None]] | None
    delivered: asyncio.Future


class Outbox:
    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._messages: deque[_Queued] = deque()
        self._changed = asyncio.Event()

    def __bool__(self) -> bool:
        return bool(self._messages)

    def put(
        self, build: Callable[[], Any], on_reply: Callable[[Any], Awaitable[None]] | None = None
    ) -> asyncio.Future:
        """Queue a message; the returned future resolves with its answer once delivered."""
        delivered = asyncio.get_running_loop().create_future()
        self._messages.append(_Queued(build, on_reply, delivered))
        self._changed.set()
        return delivered

    async def delivered(self) -> None:
        """Wait until everything queued so far has been answered."""
        if self._messages:
            await self._messages[-1].delivered

    async def pump(self, send: Send) -> None:
        """Deliver messages through `send` for as long as the connection lasts.

        `send` raising ConnectionLost or TimeoutError ends the pump with the message still first
        in line; the caller reconnects and pumps again.
        """
        while True:
            while self._messages:
                queued = self._messages[0]
                try:
                    reply = await send(queued.build())
                except OCPPError as error:  # refused, not lost: sending it again cannot help
                    log.warning("%s: transaction message refused: %s", self._owner, error)
                    reply = None
                except (TypeError, ValueError):  # its transaction never got an id from the CSMS
                    log.exception("%s: transaction message cannot be built, dropped", self._owner)
                    reply = None
                self._messages.popleft()
                if reply is not None and queued.on_reply is not None:
                    await queued.on_reply(reply)
                if not queued.delivered.done():
                    queued.delivered.set_result(reply)
            self._changed.clear()
            await self._changed.wait()
