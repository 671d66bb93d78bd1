"""Dynamic prices published per site and interval, sessions billed against them, and what the
driver is told over OCPP.

Every ``step_s`` seconds (aligned to the epoch, so quarter hours for 900 s) each priced site
publishes the price of the interval that begins: the tariff at that instant with the site's
utilisation *measured* then (the latest Power.Active.Import of its sessions over the grid
limit). A published price is stored and never changes; a session is billed with the prices of
the intervals its energy was delivered in (meter readings split per interval, whole Wh), so a
driver pays what was on display when the energy flowed. An interval nobody published (the
central system was down) is priced when a bill needs it, at zero utilisation, and its
``published_at`` shows it was late.

Drivers see (through :class:`~central_system.ocpp.gateway.ChargerLink`): the price when their
transaction starts, the running cost at every new interval, and the total when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Literal, Protocol

from central_system.background import BackgroundTasks
from central_system.clock import Clock
from central_system.domain.model import (
    ChargingSession,
    Measurand,
    MeterSample,
    SessionState,
    Site,
    latest_power,
)
from central_system.errors import ChargerOffline, CommandFailed
from central_system.ocpp.gateway import ChargerGateway
from central_system.pricing import (
    Money,
    PricedInterval,
    PriceInterval,
    PricingEngine,
    WholesalePriceSignal,
    energy_by_interval_wh,
    price_energy,
    round_half_even,
    site_utilisation,
)
from central_system.signals import Interval
from central_system.store import repository as repo
from central_system.store.database import Database

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FORECAST_HORIZON = timedelta(hours=24)


@dataclass
class _PricedSite:
    site: Site
    engine: PricingEngine


@dataclass
class _Active:
    """A session at a priced site, as billing follows it."""

    session_id: int
    site_id: str
    charger_id: str
    transaction_ref: str
    id_token: str | None
    power_w: float = 0.0  # the latest Power.Active.Import the charger reported


class DiscountSource(Protocol):
    """A driver's fee discount in basis points (EVCH staking tiers)."""

    async def fee_discount_bps(self, owner_ref: str) -> int: ...


# What a driver is still to be told once our answer to their start or stop has gone out.
Notice = tuple[Literal["tariff", "final"], ChargingSession]


class BillingService:
    def __init__(
        self, db: Database, clock: Clock, gateway: ChargerGateway, *, step_s: int = 900
    ) -> None:
        if step_s <= 0 or 3600 % step_s:
            raise ValueError(f"price interval must divide an hour, got {step_s} s")
        self._db = db
        self._clock = clock
        self._gateway = gateway
        self.step_s = step_s
        self._sites: dict[str, _PricedSite] = {}
        self._site_of: dict[str, str] = {}  # charger id -> priced site id
        self._active: dict[int, _Active] = {}
        self._outbox: dict[str, list[Notice]] = {}  # by charger id
        self._forecasts: dict[tuple[str, datetime], int] = {}
        self._current: dict[str, PriceInterval] = {}  # the latest published price, by site
        self._background = BackgroundTasks()
        self.discounts: DiscountSource | None = None

    # -- sites -------------------------------------------------------------------------------
    async def add_site(self, site: Site, wholesale: WholesalePriceSignal | None = None) -> None:
        """Price the site's energy from now on (a site without a tariff is left unpriced)."""
        if site.tariff is None:
            return
        fx = site.fx.table() if site.fx is not None else None
        self._sites[site.site_id] = _PricedSite(site, PricingEngine(site.tariff, fx, wholesale))
        for charger_id in site.evse_power_w:
            self._site_of[charger_id] = site.site_id
        self._forecasts = {k: v for k, v in self._forecasts.items() if k[0] != site.site_id}
        await self.publish(site.site_id)
        self._background.start_timer(self._every_interval(), name="site-prices")

    def priced(self, site_id: str) -> bool:
        return site_id in self._sites

    def interval_start(self, moment: datetime) -> datetime:
        """The start of the price interval holding ``moment``."""
        elapsed = (moment - _EPOCH) // timedelta(microseconds=1)
        step_us = self.step_s * 1_000_000
        return _EPOCH + timedelta(microseconds=elapsed // step_us * step_us)

    def utilisation(self, site_id: str) -> float:
        """The site's measured power over its grid limit, now."""
        site = self._sites[site_id].site
        power_w = sum(a.power_w for a in self._active.values() if a.site_id == site_id)
        return site_utilisation(power_w, site.grid_limit_w)

    async def publish(self, site_id: str) -> PriceInterval:
        """Publish the price of the interval that holds now (kept if it is already published)."""
        priced = self._sites[site_id]
        now = self._clock.now()
        start = self.interval_start(now)
        utilisation = self.utilisation(site_id)
        interval = self._interval(priced, start, utilisation)
        (stored,) = await self._db.write(
            repo.publish_prices, site_id, [(interval, utilisation)], now
        )
        self._current[site_id] = stored
        return stored

    def _interval(self, priced: _PricedSite, start: datetime, utilisation: float) -> PriceInterval:
        end = start + timedelta(seconds=self.step_s)
        return priced.engine.price_intervals(start, end, self.step_s, [utilisation])[0]

    def forecast(self, site_id: str, now: datetime) -> list[Interval]:
        """The tariff ahead (no load surcharge: that depends on load not yet known), as
        ``(start, end, minor units per kWh)``, for load policies that follow the price."""
        priced = self._sites.get(site_id)
        if priced is None:
            return []
        step = timedelta(seconds=self.step_s)
        start = self.interval_start(now)
        intervals: list[Interval] = []
        for n in range(int(FORECAST_HORIZON / step)):
            begin = start + n * step
            key = (site_id, begin)
            if key not in self._forecasts:
                self._forecasts[key] = priced.engine.price_at(begin, 0.0)
            intervals.append((begin, begin + step, float(self._forecasts[key])))
        for key in [k for k in self._forecasts if k[0] == site_id and k[1] < start]:
            del self._forecasts[key]
        return intervals

    # -- bills -------------------------------------------------------------------------------
    async def bill(self, session: ChargingSession) -> ChargingSession:
        """Price a stopped session's energy and store its bill; unpriced sites pass through."""
        site_id = self._site_of.get(session.charger_id)
        if site_id is None or session.meter_stop_wh is None:
            return session
        if session.state is not SessionState.COMPLETED:
            return session  # refused drivers are not billed
        full = await self._db.read(repo.get_session, session.session_id)
        discount_bps = await self._discount_bps(session)
        lines, total = await self._price(site_id, full, until=None, discount_bps=discount_bps)
        return await self._db.write(repo.record_bill, session.session_id, lines, total)

    async def _discount_bps(self, session: ChargingSession) -> int:
        if self.discounts is None or session.id_token is None:
            return 0
        try:
            return await self.discounts.fee_discount_bps(session.id_token)
        except Exception:  # the ledger is away: bill at the full price rather than not at all
            log.exception("session %s: staking discount unknown, none applied", session.session_id)
            return 0

    async def running_cost(self, session_id: int) -> tuple[Money, int] | None:
        """What a session has cost so far and its energy (Wh), or None outside priced sites."""
        session = await self._db.read(repo.get_session, session_id)
        if session is None or session.charger_id not in self._site_of:
            return None
        lines, total = await self._price(
            self._site_of[session.charger_id], session, until=self._clock.now()
        )
        return total, sum(int(line.energy_wh) for line in lines)

    async def _price(
        self,
        site_id: str,
        session: ChargingSession,
        until: datetime | None,
        discount_bps: int = 0,
    ) -> tuple[list[PricedInterval], Money]:
        priced = self._sites[site_id]
        points = register_points(session)
        currency = priced.site.tariff.currency
        if len(points) < 2:
            return [], Money.zero(currency)
        start = self.interval_start(points[0][0])
        last = points[-1][0] if until is None else max(points[-1][0], until)
        # Up to the interval holding the last instant; one ending exactly there is enough.
        end = self.interval_start(last - timedelta(microseconds=1)) + timedelta(seconds=self.step_s)
        end = max(end, start + timedelta(seconds=self.step_s))
        published = await self._db.read(repo.published_prices, site_id, start, end)
        intervals, late = self._complete(priced, published, start, end)
        if late:
            log.warning("%s: %d price interval(s) priced late for a bill", site_id, len(late))
            now = self._clock.now()
            await self._db.write(repo.publish_prices, site_id, [(i, 0.0) for i in late], now)
        if discount_bps:
            intervals = [discounted(interval, discount_bps) for interval in intervals]
        energy = energy_by_interval_wh(intervals, points)
        lines, total = price_energy(intervals, energy)
        return [line for line in lines if line.energy_wh], total

    def _complete(
        self,
        priced: _PricedSite,
        published: Sequence[PriceInterval],
        start: datetime,
        end: datetime,
    ) -> tuple[list[PriceInterval], list[PriceInterval]]:
        """Every interval of [start, end): the published ones, and the missing ones priced now."""
        by_start = {interval.start: interval for interval in published}
        intervals, late = [], []
        step = timedelta(seconds=self.step_s)
        begin = start
        while begin < end:
            interval = by_start.get(begin)
            if interval is None:
                interval = self._interval(priced, begin, 0.0)
                late.append(interval)
            intervals.append(interval)
            begin += step
        return intervals, late

    # -- what the charging service tells us --------------------------------------------------
    def session_started(self, session: ChargingSession, *, resumed: bool = False) -> None:
        site_id = self._site_of.get(session.charger_id)
        if site_id is None:
            return
        self._active[session.session_id] = _Active(
            session.session_id,
            site_id,
            session.charger_id,
            session.transaction_ref,
            session.id_token,
        )
        if not resumed:  # the driver saw the price when it started
            self._notify(session.charger_id, ("tariff", session))

    def session_metered(self, session_id: int, samples: Sequence[MeterSample]) -> None:
        active = self._active.get(session_id)
        if active is None:
            return
        power = latest_power(samples)
        if power is not None:
            active.power_w = power.value

    def session_stopped(self, session: ChargingSession) -> None:
        self._active.pop(session.session_id, None)
        if session.total_cost_minor is not None:
            self._notify(session.charger_id, ("final", session))

    def driver_needs(self, session: ChargingSession) -> None:
        """Prices do not depend on the driver's plans."""

    def sessions_changed(self, charger_id: str) -> None:
        """Our answer to a start or stop has gone out: tell the driver now."""
        notices = self._outbox.pop(charger_id, None)
        if notices:
            self._background.spawn(self._tell(charger_id, notices))

    def _notify(self, charger_id: str, notice: Notice) -> None:
        self._outbox.setdefault(charger_id, []).append(notice)

    # -- telling drivers ---------------------------------------------------------------------
    async def _tell(self, charger_id: str, notices: list[Notice]) -> None:
        for kind, session in notices:
            try:
                link = self._gateway.link(charger_id)
                if kind == "tariff":
                    price = await self._current_price(session.charger_id)
                    await link.show_tariff(session.transaction_ref, session.id_token, price)
                else:
                    total = Money(session.total_cost_minor, session.currency)
                    await link.show_final_cost(session.transaction_ref, total, session.energy_wh)
            except (ChargerOffline, CommandFailed) as error:
                log.warning("%s: %s message not delivered: %s", charger_id, kind, error)

    async def _current_price(self, charger_id: str) -> PriceInterval:
        """The price published for now. From memory: a query in another thread here would let
        the planner's messages of the same instant overtake ours or not, by chance."""
        site_id = self._site_of[charger_id]
        current = self._current.get(site_id)
        if current is not None and current.start <= self._clock.now() < current.end:
            return current
        return await self.publish(site_id)

    async def _tell_running_costs(self, site_id: str, price: PriceInterval) -> None:
        for active in sorted(self._active.values(), key=lambda a: a.session_id):
            if active.site_id != site_id:
                continue
            running = await self.running_cost(active.session_id)
            if running is None:
                continue
            cost, energy_wh = running
            try:
                link = self._gateway.link(active.charger_id)
                await link.show_running_cost(active.transaction_ref, cost, energy_wh, price)
            except (ChargerOffline, CommandFailed) as error:
                log.warning("%s: running cost not delivered: %s", active.charger_id, error)

    # -- the interval ------------------------------------------------------------------------
    async def _every_interval(self) -> None:
        while True:
            now = self._clock.now()
            boundary = self.interval_start(now) + timedelta(seconds=self.step_s)
            await self._clock.sleep((boundary - now).total_seconds())
            for site_id in sorted(self._sites):
                price = await self.publish(site_id)
                await self._tell_running_costs(site_id, price)

    async def stop(self) -> None:
        await self._background.cancel()


def discounted(interval: PriceInterval, discount_bps: int) -> PriceInterval:
    """The interval's price less a driver's discount, rounded half-even to the minor unit;
    the discount is a component of its own, so the components still add up to the price."""
    full = interval.price_minor_per_kwh
    price = round_half_even(Fraction(full * (10_000 - discount_bps), 10_000))
    components = {**interval.components, "discount": price - full}
    return replace(interval, price_minor_per_kwh=price, components=components)


def register_points(session: ChargingSession) -> list[tuple[datetime, int]]:
    """The session's energy register over time (start, readings, stop), one value per instant.

    A register that seems to go down (a reading out of order) is held at its highest value, so
    no interval gets negative energy.
    """
    points: dict[datetime, int] = {}

    def add(moment: datetime, register_wh: int) -> None:
        points[moment] = max(points.get(moment, register_wh), register_wh)

    if session.meter_start_wh is not None:
        add(session.started_at, session.meter_start_wh)
    for sample in session.readings:
        if (
            sample.measurand == Measurand.ENERGY_IMPORT_REGISTER
            and sample.phase is None
            and sample.value is not None
        ):
            add(sample.timestamp, round(sample.value))
    if session.stopped_at is not None and session.meter_stop_wh is not None:
        add(session.stopped_at, session.meter_stop_wh)
    ordered, highest = [], None
    stopped_at = session.stopped_at
    for moment in sorted(points):
        if moment < session.started_at or (stopped_at is not None and moment > stopped_at):
            continue  # outside the transaction (e.g. a clock-sync reading)
        highest = points[moment] if highest is None else max(highest, points[moment])
        ordered.append((moment, highest))
    return ordered
