"""Tasks a component runs on its own (a timer, messages after an answer) and ends when it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._timer: asyncio.Task | None = None

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Return once every spawned task (not the timer) has finished, later ones included."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def start_timer(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        """Run the component's periodic loop, once (a second call closes `coroutine` unused)."""
        if self._timer is not None:
            coroutine.close()
            return
        self._timer = asyncio.create_task(coroutine, name=name)

    async def cancel(self) -> None:
        tasks = [t for t in [self._timer, *self._tasks] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._timer = None
