"""The central system assembled: database, charging service, OCPP endpoint and REST API.

Everything is built here, at start, from settings and an injected clock; nothing at import time.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from central_system.api.app import create_app
from central_system.clock import Clock, SystemClock
from central_system.config import Settings
from central_system.ocpp.gateway import ChargerGateway
from central_system.ocpp.server import OcppServer
from central_system.sessions.service import ChargingService
from central_system.smart_charging.planner import SitePlanner
from central_system.store import Database, migrate
from ocppj import FrameObserver

log = logging.getLogger(__name__)


class CentralSystem:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        frame_observer: FrameObserver | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.database_url)
        self.service = ChargingService(self.db, self.clock, auto_register=settings.auto_register)
        self.gateway = ChargerGateway()
        self.planner = SitePlanner(self.gateway, self.clock, interval_s=settings.replan_interval_s)
        self.service.listeners.append(self.planner)
        self.ocpp = OcppServer(self.service, self.gateway, self.clock, settings, frame_observer)
        self.api = create_app(self.service, self.gateway)
        self._api_server: uvicorn.Server | None = None
        self._api_task: asyncio.Task | None = None

    @property
    def ocpp_url(self) -> str:
        return f"ws://{self.settings.host}:{self.ocpp.port}/ocpp"

    @property
    def api_url(self) -> str:
        assert self._api_server is not None, "API not started"
        port = self._api_server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.settings.host}:{port}/api/v1"

    async def start(self, *, with_api: bool = True) -> None:
        await asyncio.to_thread(migrate, self.settings.database_url)
        self.db.start()
        await self.ocpp.start(self.settings.host, self.settings.ocpp_port)
        if with_api:
            config = uvicorn.Config(
                self.api,
                host=self.settings.host,
                port=self.settings.api_port,
                log_level="warning",
                lifespan="off",
            )
            self._api_server = uvicorn.Server(config)
            self._api_task = asyncio.create_task(self._api_server.serve())
            while not self._api_server.started:
                if self._api_task.done():
                    self._api_task.result()  # raises why the API could not start
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Close chargers' connections, then commit everything queued and close the database."""
        if self._api_server is not None:
            self._api_server.should_exit = True
            await self._api_task
            self._api_server = None
        await self.planner.stop()
        await self.ocpp.stop()
        await asyncio.to_thread(self.db.close)

    async def __aenter__(self) -> CentralSystem:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
