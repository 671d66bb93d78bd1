"""The central system a run talks to: started in-process on the twin's clock, or an external one.

In-process (every accelerated run, and real-time runs without `--csms-url`) the twin owns the
CSMS: its SQLite database is in the run directory, it records every frame as the CSMS saw it,
and onboarding (chargers, meter keys, sites, drivers) goes through its services. An external
CSMS (a HIL rig's) is reached over OCPP and REST only: onboarding goes through `/api/v1`, and
the frames are recorded on the emulated chargers' side of the socket, turned around so that
the run directory reads the same ("in" came from the charger).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from central_system.app import CentralSystem
from central_system.config import Settings
from central_system.domain.model import ChargingSession, IdToken, IdTokenStatus, Site
from central_system.signals import SiteFeeds
from chargers_sim.clock import Clock
from ocppj import FrameObserver
from twin.csms_client import CsmsApi
from twin.driver_app import DriverApp, RestDriverApp
from twin.fleet import Fleet
from twin.quiescence import Quiescence
from twin.recorder import RunRecorder
from twin.scenario import Scenario
from twin.scenario import Site as SiteSpec

TURNED = {"in": "out", "out": "in"}


def site_of(scenario: Scenario, fleet: Fleet, site: SiteSpec) -> Site:
    """A site of the scenario as the CSMS manages it: every EVSE behind it, real ones too."""
    evse_power_w = {
        spec.charger_id: spec.max_power_kw * 1000.0
        for spec in fleet.specs.values()
        if spec.site_id == site.id
    }
    return Site(
        site_id=site.id,
        name=site.name,
        grid_limit_w=site.grid_limit_kw * 1000.0,
        policy=site.policy,
        evse_power_w=evse_power_w,
        tariff=site.tariff,
        fx=scenario.fx,
    )


class InProcessCsms:
    """The run's own central system, on the twin's clock."""

    def __init__(
        self,
        scenario: Scenario,
        clock: Clock,
        out_dir: Path,
        quiescence: Quiescence,
        recorder: RunRecorder,
    ) -> None:
        settings = Settings(
            database_url=f"sqlite:///{(out_dir / 'csms.sqlite').resolve()}",
            host="127.0.0.1",
            ocpp_port=0,
            heartbeat_interval_s=scenario.timing.heartbeat_interval_s,
            replan_interval_s=scenario.timing.replan_interval_s,
        )
        self.central = CentralSystem(settings, clock, quiescence.observer("csms", recorder.frame))
        self.charger_observer: FrameObserver = quiescence.observer("charger")
        quiescence.watch_threads(lambda: self.central.db.busy)

    @property
    def ocpp_url(self) -> str:
        return self.central.ocpp_url

    async def start(self) -> None:
        await self.central.start(with_api=False)

    async def onboard(
        self, fleet: Fleet, scenario: Scenario, feeds: dict[str, SiteFeeds], drivers: list[str]
    ) -> None:
        service = self.central.service
        for charger_id, charger in fleet.chargers.items():
            await service.register_charger(charger_id)
            # The installer registers each meter's public key, as printed on the meter.
            for evse_id, (serial, public_key_der) in charger.meter_keys().items():
                await service.register_meter(charger_id, evse_id, serial, public_key_der)
        for site in scenario.sites:
            await self.central.add_site(site_of(scenario, fleet, site), feeds[site.id])
        for token in drivers:
            await service.upsert_id_token(IdToken(token, "ISO14443", IdTokenStatus.ACTIVE))
            if self.central.tokens is not None:  # every driver has a custodial wallet
                await self.central.tokens.open_wallet(token)
                await self.central.tokens.verify(token)

    def driver_app(self, seed: int, evch_payment_share: float) -> DriverApp:
        return DriverApp(self.central, seed, evch_payment_share)

    async def stored_sessions(
        self, transactions: Iterable[tuple[str, str]]
    ) -> list[ChargingSession]:
        """Every session in its database: the database is the run's own."""
        return await self.central.service.list_sessions(limit=1_000_000)

    async def stop(self) -> None:
        await self.central.stop()


class ExternalCsms:
    """A central system running elsewhere (HIL), reached over OCPP and its REST API."""

    def __init__(
        self,
        ocpp_url: str,
        api: CsmsApi,
        quiescence: Quiescence,
        recorder: RunRecorder,
    ) -> None:
        self.ocpp_url = ocpp_url.rstrip("/")
        self.api = api
        frame = recorder.frame

        def as_the_csms_saw_it(charger_id: str, direction: str, text: str) -> None:
            frame(charger_id, TURNED[direction], text)

        self.charger_observer: FrameObserver = quiescence.observer("charger", as_the_csms_saw_it)

    async def start(self) -> None:
        await self.api.health()  # reachable (and the token accepted) before anything else

    async def onboard(
        self, fleet: Fleet, scenario: Scenario, feeds: dict[str, SiteFeeds], drivers: list[str]
    ) -> None:
        """Chargers (real ones too), meter keys, sites and drivers, through the REST API.

        The sites' live signals (PV, day-ahead prices, emissions) cannot be given over the API:
        an external CSMS plans with its own feeds.
        """
        api = self.api

        async def charger(charger_id: str) -> None:
            spec = fleet.specs[charger_id]
            await api.register_charger(charger_id, spec.protocol)
            emulated = fleet.chargers.get(charger_id)
            if emulated is not None:
                for evse_id, (serial, key_der) in emulated.meter_keys().items():
                    await api.register_meter(charger_id, evse_id, serial, key_der)

        await asyncio.gather(*(charger(charger_id) for charger_id in fleet.specs))
        for site in scenario.sites:
            await api.put_site(site.id, site_body(site_of(scenario, fleet, site)))
        test_cards = sorted({real.id_token for real in scenario.hardware})
        await asyncio.gather(*(api.upsert_id_token(token) for token in [*drivers, *test_cards]))

    def driver_app(self, seed: int, evch_payment_share: float) -> RestDriverApp:
        return RestDriverApp(self.api)

    async def stored_sessions(
        self, transactions: Iterable[tuple[str, str]]
    ) -> list[ChargingSession]:
        """The run's sessions, by (charger id, transaction ref): the CSMS's database outlives
        the run and holds other sessions too."""
        ours = set(transactions)
        return [s for s in await self.api.sessions() if (s.charger_id, s.transaction_ref) in ours]

    async def stop(self) -> None:
        await self.api.close()


def site_body(site: Site) -> dict:
    """`PUT /api/v1/sites/{site_id}`'s body."""
    return {
        "name": site.name,
        "grid_limit_w": site.grid_limit_w,
        "policy": site.policy,
        "evse_power_w": dict(site.evse_power_w),
        "tariff": site.tariff.model_dump(mode="json") if site.tariff else None,
        "fx": site.fx.model_dump(mode="json") if site.fx else None,
    }
