"""The central system assembled: database, charging service, OCPP endpoint and REST API.

Everything is built here, at start, from settings and an injected clock; nothing at import time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import uvicorn

from central_system.api.app import create_app
from central_system.api.probes import probes_router
from central_system.billing import BillingService
from central_system.clock import Clock, SystemClock
from central_system.config import Settings
from central_system.domain.model import Site
from central_system.ledger import Ledger
from central_system.observability.metrics import Metrics
from central_system.ocpp.gateway import ChargerGateway
from central_system.ocpp.server import OcppServer
from central_system.payments import EvchPayments, EvchPeg
from central_system.pricing import PriceInterval
from central_system.security import ChargerCredentials
from central_system.sessions.service import ChargingService
from central_system.signals import NO_FEEDS, SiteFeeds
from central_system.smart_charging.planner import SitePlanner
from central_system.smart_charging.policies import SiteSignals
from central_system.store import Database, migrate
from central_system.store import repository as repo
from central_system.tokens.bootstrap import (
    LAMPORTS_PER_SOL,
    TokenAuthorities,
    TokenSettings,
    bootstrap,
)
from central_system.tokens.rewards import RewardClassifier
from central_system.tokens.service import KycProvider, TokenService
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
        self.gateway = ChargerGateway()
        self.billing = BillingService(
            self.db, self.clock, self.gateway, step_s=settings.price_interval_s
        )
        self.service = ChargingService(
            self.db, self.clock, auto_register=settings.auto_register, biller=self.billing
        )
        self.planner = SitePlanner(
            self.gateway, self.clock, interval_s=settings.replan_interval_s, signals=self._signals
        )
        self.service.listeners += [self.planner, self.billing]
        self.metrics = Metrics()
        self.metrics.watch_database(self.db)
        self.service.listeners.append(self.metrics)
        self._feeds: dict[str, SiteFeeds] = {}
        self.tokens: TokenService | None = None
        self.payments: EvchPayments | None = None
        self.credentials = ChargerCredentials(self.db, self.clock)
        self.ocpp = OcppServer(
            self.service,
            self.gateway,
            self.clock,
            settings,
            frame_observer,
            self.credentials,
            metrics=self.metrics,
        )
        self.api = create_app(self.service, self.gateway, self)
        self.api.include_router(probes_router(self))  # /health, /ready, /metrics
        self._api_server: uvicorn.Server | None = None
        self._api_task: asyncio.Task | None = None

    @property
    def ocpp_url(self) -> str:
        return f"{self.ocpp.scheme}://{self.settings.host}:{self.ocpp.port}/ocpp"

    @property
    def api_url(self) -> str:
        assert self._api_server is not None, "API not started"
        port = self._api_server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.settings.host}:{port}/api/v1"

    # -- sites ------------------------------------------------------------------------------
    async def add_site(self, site: Site, feeds: SiteFeeds = NO_FEEDS) -> Site:
        """Store a site and manage it from now on: its load, and its prices if it has a tariff.

        ``feeds`` are live signals (not stored): after a restart a site runs without them
        until they are given again.
        """
        site = await self.db.write(repo.upsert_site, site)
        self._feeds[site.site_id] = feeds
        self.planner.add_site(site)
        await self.billing.add_site(site, feeds.wholesale)
        return site

    async def set_site_policy(self, site_id: str, policy: str) -> Site | None:
        """Switch a site's load-management policy now (and for good)."""
        if site_id not in self.planner.sites():
            return None
        self.planner.set_policy(site_id, policy)  # checks the name before anything is stored
        return await self.db.write(repo.set_site_policy, site_id, policy)

    async def list_sites(self) -> list[Site]:
        return await self.db.read(repo.list_sites)

    async def published_prices(
        self, site_id: str, start: datetime, end: datetime
    ) -> list[PriceInterval]:
        return await self.db.read(repo.published_prices, site_id, start, end)

    def _signals(self, site_id: str, now: datetime) -> SiteSignals:
        feeds = self._feeds.get(site_id, NO_FEEDS)
        horizon = now + timedelta(hours=24)
        return SiteSignals(
            price_per_kwh=self.billing.forecast(site_id, now),
            pv_w=feeds.pv_w.forecast(now, horizon) if feeds.pv_w else (),
            carbon_g_per_kwh=(
                feeds.carbon_g_per_kwh.forecast(now, horizon) if feeds.carbon_g_per_kwh else ()
            ),
        )

    # -- tokens ------------------------------------------------------------------------------
    async def deploy_tokens(
        self,
        ledger: Ledger,
        settings: TokenSettings,
        kyc: KycProvider,
        peg: EvchPeg | None = None,
    ) -> TokenService:
        """Deploy EVCH on ``ledger`` with new keys (kept in memory only), fund the attestor,
        which pays for the session accounts, and attach the token service."""
        keys = TokenAuthorities()
        deployment = await bootstrap(ledger, keys, settings)
        await ledger.fund(keys.attestor.pubkey(), 100 * LAMPORTS_PER_SOL)
        tokens = TokenService(self.db, self.clock, ledger, deployment, keys, kyc)
        self.attach_tokens(tokens, peg)
        return tokens

    def attach_tokens(self, tokens: TokenService, peg: EvchPeg | None = None) -> None:
        """Mint a Proof-of-Charge for every completed session from now on (and any left
        pending by an earlier run); drivers may pay their sessions in EVCH at ``peg``."""
        self.tokens = tokens
        self.payments = EvchPayments(self.db, self.clock, tokens, peg)
        self.service.listeners.append(tokens)
        self.billing.discounts = tokens  # staking tiers lower the driver's price
        tokens.rewards = RewardClassifier(
            self.db, lambda site_id: self._feeds.get(site_id, NO_FEEDS)
        )
        self.metrics.watch_tokens(tokens)
        tokens.start()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, *, with_api: bool = True) -> None:
        await asyncio.to_thread(migrate, self.settings.database_url)
        self.db.start()
        for site in await self.list_sites():  # a restart resumes the sites it managed
            await self.add_site(site)
        await self.service.resume_sessions()  # ... and the sessions still under way there
        await self.ocpp.start(self.settings.host, self.settings.ocpp_port)
        if with_api:
            config = uvicorn.Config(
                self.api,
                host=self.settings.host,
                port=self.settings.api_port,
                log_level="warning",
                log_config=None,  # its records go to the root logger, as configured
                lifespan="off",
                timeout_graceful_shutdown=self.settings.shutdown_grace_s,
            )
            self._api_server = uvicorn.Server(config)
            self._api_task = asyncio.create_task(self._api_server.serve())
            while not self._api_server.started:
                if self._api_task.done():
                    self._api_task.result()  # raises why the API could not start
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Shut down telling chargers nothing untrue: the REST API stops (its requests under
        way get ``shutdown_grace_s``); the OCPP endpoint takes no new connection and gives the
        calls chargers wait on as long to be answered; background work stops; connections
        close (1001 going away); every queued write is committed and the database closed.
        Sessions under way are neither stopped nor told anything: they stay active in the
        database, and the next start resumes them."""
        if self._api_server is not None:
            self._api_server.should_exit = True
            await self._api_task
            self._api_server = None
        await self.ocpp.drain(self.settings.shutdown_grace_s)
        await self.planner.stop()
        await self.billing.stop()
        if self.tokens is not None:
            await self.tokens.stop()
        await self.ocpp.stop(self.settings.shutdown_grace_s)
        await asyncio.to_thread(self.db.close)

    async def __aenter__(self) -> CentralSystem:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
