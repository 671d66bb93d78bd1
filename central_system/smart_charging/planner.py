"""Site load management: keep every site within its grid connection, re-planning its sessions.

The planner follows the site's sessions (the charging service tells it of starts, meter
readings and stops), and re-plans a site when a session starts or stops, when a driver tells
their departure and energy, and every `interval_s`. A plan is one power limit per session
(`policies.allocate`), sent as a TxProfile. Lowered limits go out before raised ones, so the
sum of the limits never exceeds the grid limit on the way from one plan to the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from central_system.background import BackgroundTasks
from central_system.clock import Clock
from central_system.domain.model import (
    ChargingSession,
    MeterSample,
    Site,
    energy_register_wh,
    latest_power,
)
from central_system.errors import ChargerOffline, CommandFailed
from central_system.ocpp.gateway import ChargerGateway
from central_system.smart_charging.policies import (
    SessionNeeds,
    SiteSignals,
    allocate,
    require_policy,
)

log = logging.getLogger(__name__)

# A raise this close to the limit the charger has is not worth a message (cuts always go).
LIMIT_RESOLUTION_W = 10.0
# An EV drawing clearly less than its limit is held back by itself (a slower on-board
# charger, a full battery): it is planned at what it draws plus a margin, so the rest of the
# site's capacity goes to EVs that can use it, and its full rating is tried again after a while
# (as acnportal's estimate_max_rate does).
UNDERUSE_SHARE = 0.9
DRAW_MARGIN_W = 500.0
RETEST_AFTER = timedelta(minutes=30)


@dataclass
class _Tracked:
    """What the planner knows of one active session."""

    session_id: int
    site_id: str
    charger_id: str
    evse_id: int
    transaction_ref: str
    started_at: datetime
    meter_start_wh: int
    register_wh: int
    departure: datetime | None = None
    energy_target_wh: float | None = None
    sent_limit_w: float | None = None  # None: the charger has no limit of ours (yet)
    limit_sent_at: datetime | None = None
    draw_cap_w: float | None = None  # what the EV itself seems able to draw (see UNDERUSE_SHARE)
    draw_cap_until: datetime | None = None

    def max_power_w(self, rating_w: float, now: datetime) -> float:
        """The EVSE's rating, or less while the EV has shown it cannot draw more."""
        if self.draw_cap_w is None or self.draw_cap_until is None or now >= self.draw_cap_until:
            return rating_w
        return min(rating_w, self.draw_cap_w)

    def measured(self, sample: MeterSample) -> bool:
        """Learn from a power reading taken under our current limit; True if the EV is now
        planned lower than before."""
        limit_w = self.sent_limit_w
        if (
            limit_w is None
            or self.limit_sent_at is None
            or sample.timestamp <= self.limit_sent_at
            or sample.value >= UNDERUSE_SHARE * limit_w
        ):
            return False
        cap_w = sample.value + DRAW_MARGIN_W
        lowered = self.draw_cap_w is None or cap_w < self.draw_cap_w - LIMIT_RESOLUTION_W
        self.draw_cap_w = cap_w
        self.draw_cap_until = sample.timestamp + RETEST_AFTER
        return lowered

    @property
    def energy_needed_wh(self) -> float | None:
        if self.energy_target_wh is None:
            return None
        return max(0.0, self.energy_target_wh - (self.register_wh - self.meter_start_wh))


@dataclass
class _SiteState:
    config: Site
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SitePlanner:
    def __init__(
        self,
        gateway: ChargerGateway,
        clock: Clock,
        *,
        interval_s: float = 300.0,
        signals: Callable[[str, datetime], SiteSignals] | None = None,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self.interval_s = interval_s
        self._signals = signals or (lambda _site, _now: SiteSignals())
        self._sites: dict[str, _SiteState] = {}
        self._site_of: dict[str, str] = {}  # charger id -> site id
        self._sessions: dict[int, _Tracked] = {}
        self._background = BackgroundTasks()

    # -- configuration -----------------------------------------------------------------------
    def add_site(self, config: Site) -> None:
        """Manage a site from now on (re-planned every interval from here)."""
        require_policy(config.policy)
        self._sites[config.site_id] = _SiteState(config)
        for charger_id in config.evse_power_w:
            self._site_of[charger_id] = config.site_id
        self._background.start_timer(self._every_interval(), name="site-planner")

    def set_policy(self, site_id: str, policy: str) -> None:
        """Switch a site's policy at run time; it takes effect at once."""
        require_policy(policy)
        state = self._sites[site_id]
        state.config = replace(state.config, policy=policy)
        self._background.spawn(self.replan(site_id))

    def sites(self) -> list[str]:
        return sorted(self._sites)

    def policy(self, site_id: str) -> str:
        return self._sites[site_id].config.policy

    # -- what the charging service tells us --------------------------------------------------
    def session_started(self, session: ChargingSession, *, resumed: bool = False) -> None:
        site_id = self._site_of.get(session.charger_id)
        if site_id is None or session.transaction_ref is None:
            return  # a charger outside any managed site
        self._sessions[session.session_id] = _Tracked(
            session_id=session.session_id,
            site_id=site_id,
            charger_id=session.charger_id,
            evse_id=session.evse_id,
            transaction_ref=session.transaction_ref,
            started_at=session.started_at,
            meter_start_wh=session.meter_start_wh or 0,
            register_wh=session.meter_start_wh or 0,
            departure=session.departure_at,
            energy_target_wh=session.energy_target_wh,
        )

    def session_metered(self, session_id: int, samples: Sequence[MeterSample]) -> None:
        tracked = self._sessions.get(session_id)
        if tracked is None:
            return
        register_wh = energy_register_wh(samples)
        if register_wh is not None:
            tracked.register_wh = max(tracked.register_wh, register_wh)
        power = latest_power(samples, context="Sample.Periodic")
        if power is not None and tracked.measured(power):
            # Hand what this EV cannot use to the others now.
            self._background.spawn(self.replan(tracked.site_id))

    def session_stopped(self, session: ChargingSession) -> None:
        self._sessions.pop(session.session_id, None)

    def driver_needs(self, session: ChargingSession) -> None:
        """The driver told their departure and energy (from the app): re-plan with them."""
        tracked = self._sessions.get(session.session_id)
        if tracked is not None:
            tracked.departure = session.departure_at
            tracked.energy_target_wh = session.energy_target_wh
            self._background.spawn(self.replan(tracked.site_id))

    def sessions_changed(self, charger_id: str) -> None:
        """Re-plan the charger's site (called once our answer to its start/stop went out)."""
        site_id = self._site_of.get(charger_id)
        if site_id is not None:
            self._background.spawn(self.replan(site_id))

    # -- planning ----------------------------------------------------------------------------
    def plan(self, site_id: str) -> dict[int, float]:
        """The limit (W) each active session of the site should have now."""
        config = self._sites[site_id].config
        now = self._clock.now()
        active = sorted(
            (t for t in self._sessions.values() if t.site_id == site_id),
            key=lambda t: t.session_id,
        )
        needs = [
            SessionNeeds(
                key=str(t.session_id),
                arrival=t.started_at,
                max_power_w=t.max_power_w(config.evse_power_w[t.charger_id], now),
                departure=t.departure,
                energy_needed_wh=t.energy_needed_wh,
            )
            for t in active
        ]
        allocation = allocate(
            config.policy,
            needs,
            config.grid_limit_w,
            now,
            self._signals(site_id, now),
            step_s=self.interval_s,
        )
        return {t.session_id: allocation[str(t.session_id)] for t in active}

    async def replan(self, site_id: str) -> None:
        state = self._sites[site_id]
        async with state.lock:
            plan = self.plan(site_id)
            changes = [
                (self._sessions[session_id], limit_w)
                for session_id, limit_w in plan.items()
                if self._needs_update(self._sessions[session_id], limit_w)
            ]
            # Lower first, then raise: the sum of limits stays within the grid limit throughout.
            changes.sort(key=lambda change: change[1] - (change[0].sent_limit_w or 0.0))
            for tracked, limit_w in changes:
                await self._send(tracked, limit_w)

    @staticmethod
    def _needs_update(tracked: _Tracked, limit_w: float) -> bool:
        sent_w = tracked.sent_limit_w
        return sent_w is None or limit_w < sent_w or limit_w - sent_w >= LIMIT_RESOLUTION_W

    async def _send(self, tracked: _Tracked, limit_w: float) -> None:
        if tracked.session_id not in self._sessions:
            return  # stopped while we were sending others
        try:
            link = self._gateway.link(tracked.charger_id)
            status = await link.set_power_limit(
                tracked.evse_id, tracked.transaction_ref, limit_w, tracked.session_id
            )
        except (ChargerOffline, CommandFailed) as error:
            log.warning("%s: limit of %.0f W not sent: %s", tracked.charger_id, limit_w, error)
            tracked.sent_limit_w = None  # try again at the next plan
            return
        if status == "Accepted":
            tracked.sent_limit_w = limit_w
            tracked.limit_sent_at = self._clock.now()
        else:
            log.warning("%s refused a limit of %.0f W: %s", tracked.charger_id, limit_w, status)

    # -- the interval ------------------------------------------------------------------------
    async def stop(self) -> None:
        await self._background.cancel()

    async def _every_interval(self) -> None:
        while True:
            await self._clock.sleep(self.interval_s)
            for site_id in sorted(self._sites):
                await self.replan(site_id)
