"""Serving a LocalValidator over HTTP, in this process (tests) or as `evch validator`."""

from __future__ import annotations

import asyncio

import uvicorn

from programs.localnet.validator import LocalValidator, create_app


class LocalnetServer:
    """``async with LocalnetServer() as server: ... server.url ...``; port 0 picks a free one."""

    def __init__(
        self, validator: LocalValidator | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.validator = validator or LocalValidator()
        config = uvicorn.Config(
            create_app(self.validator), host=host, port=port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None

    async def __aenter__(self) -> LocalnetServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
