"""One EV's visit as a SimPy process: arrive, find a bay, plug in, authorise, charge, leave.

Every step that a real driver or EV would cause at a charger goes through the emulated charger,
which speaks OCPP to the central system; the process waits for each (`Conductor.act`) before it
goes on, as a driver waits for the charger's screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import simpy

from central_system.domain.model import ChargingSession, SessionState
from central_system.domain.tokens import Settlement
from chargers_sim.base import ChargerStateError, Transaction
from twin.arrivals import Arrival
from twin.clock import VirtualClock
from twin.conductor import Conductor
from twin.ev import ChargingCurve, Ev
from twin.ev_catalogue import EvModel
from twin.fleet import Bay, Fleet
from twin.recorder import RunRecorder
from twin.site_power import SitePowerLog


@dataclass
class Visit:
    """What happened to one arrival; the run's sessions table is made of these."""

    arrival: Arrival
    ev: Ev
    bay: Bay | None = None
    refused: str | None = None
    transaction: Transaction | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    satisfied_at: datetime | None = None
    meter_stop_wh: int | None = None  # the EVSE's register once the transaction was over
    departed_at: datetime | None = None
    # The run ended before the driver would have left: the twin unplugged the EV at the end.
    truncated: bool = False
    # The charger ended the transaction by itself (deauthorised, reset, remote stop).
    ended_by_charger: bool = False
    remapped: str | None = None  # why a replayed session went to another bay than its station
    # A real charger's session (HIL), as the CSMS last showed it.
    real_session: ChargingSession | None = None


class DriverAppPort(Protocol):
    """The driver's phone app (twin.driver_app.DriverApp in a run)."""

    def tell_needs(
        self, charger_id: str, transaction_id: str, departure: datetime, wh: float
    ) -> Awaitable[object]: ...

    def pay(self, charger_id: str, transaction_id: str) -> Awaitable[Settlement | None]: ...


class Measurement(Protocol):
    session: ChargingSession
    power_w: float


class HardwarePort(Protocol):
    """The real chargers of a HIL run, driven through the CSMS (twin.hardware.CsmsHardware).

    `start` raises an exception with a `reason` (the refusal code) when no session opens."""

    def id_token(self, charger_id: str) -> str: ...
    def start(self, charger_id: str, evse_id: int) -> Awaitable[ChargingSession]: ...
    def measure(self, session_id: int) -> Awaitable[Measurement]: ...
    def stop(self, session_id: int) -> Awaitable[ChargingSession]: ...


@dataclass(frozen=True)
class VisitRules:
    end_s: float
    power_step_s: float
    efficiency: float
    curve: ChargingCurve
    # Replay only: a station id that names no charger (or a busy one) is sent to any free bay,
    # or the arrival is refused.
    unknown_station: str = "any_free"
    # HIL: how often the power a real charger measures is read from the CSMS (simulated s).
    real_poll_s: float = 60.0


class VisitProcess:
    """Builds the SimPy process of each arrival; shared state lives here, not in globals."""

    def __init__(
        self,
        env: simpy.Environment,
        clock: VirtualClock,
        conductor: Conductor,
        fleet: Fleet,
        recorder: RunRecorder,
        power: SitePowerLog,
        models: dict[str, EvModel],
        rules: VisitRules,
        app: DriverAppPort | None = None,
        hardware: HardwarePort | None = None,
    ) -> None:
        self.env = env
        self.clock = clock
        self.conductor = conductor
        self.fleet = fleet
        self.recorder = recorder
        self.power = power
        self.models = models
        self.rules = rules
        self.app = app
        self.hardware = hardware
        self.visits: list[Visit] = []
        # EVs waiting between two decisions of their draw, by (charger id, EVSE id).
        self._charging: dict[tuple[str, int], simpy.Process] = {}
        for charger in fleet:
            charger.on_limit_change = partial(self._limit_changed, charger.id)

    def start(self, arrival: Arrival) -> Visit:
        ev = Ev(
            self.models[arrival.ev_model],
            arrival_soc=arrival.arrival_soc,
            need_wh=arrival.need_wh,
            efficiency=self.rules.efficiency,
            curve=self.rules.curve,
        )
        visit = Visit(arrival, ev)
        self.visits.append(visit)
        self.env.process(self._run(visit))
        return visit

    def _run(self, visit: Visit) -> Generator[simpy.Event, Any, None]:
        arrival, act = visit.arrival, self.conductor.act
        yield self.env.timeout(max(0.0, self.clock.at(arrival.arrival) - self.env.now))
        self._event("arrival", visit, ev_model=arrival.ev_model, need_wh=arrival.need_wh)
        bay = self._claim(visit)
        if bay is None:
            return
        visit.bay = bay
        if bay.charger is None:  # a real charger: the CSMS starts and stops it
            yield from self._run_real(visit)
            return
        charger, evse_id = bay.charger, bay.evse_id
        yield act(charger.plug_in(evse_id))
        self._event("plug_in", visit)
        accepted = yield act(charger.authorize(arrival.id_token))
        if not accepted:
            self._refuse(visit, "authorization_rejected")
            yield act(charger.unplug(evse_id))
            self._leave(visit)
            return
        try:
            visit.transaction = yield act(charger.start_transaction(evse_id, arrival.id_token))
        except ChargerStateError as error:  # e.g. the operator took the EVSE out of service
            self._refuse(visit, "evse_unavailable", detail=str(error))
            yield act(charger.unplug(evse_id))
            self._leave(visit)
            return
        visit.started_at = self.clock.now()
        self._event("start", visit)
        transaction_id = visit.transaction.transaction_id
        if self.app is not None and transaction_id is not None:
            # The driver's app tells the operator when they leave and what they need.
            yield act(
                self.app.tell_needs(
                    bay.charger_id,
                    transaction_id,
                    arrival.departure,
                    arrival.need_wh,
                )
            )

        yield from self._charge(visit)

        if charger.evses[evse_id].transaction is visit.transaction:
            yield act(charger.stop_transaction(evse_id, "EVDisconnected"))
            visit.stopped_at = self.clock.now()
        yield act(charger.unplug(evse_id))
        if self.app is not None and transaction_id is not None:
            paid = yield act(self.app.pay(bay.charger_id, transaction_id))
            if paid is not None:
                self._event("paid_evch", visit, gross_raw=paid.gross_raw, fee_raw=paid.fee_raw)
        self._leave(visit)

    def _run_real(self, visit: Visit) -> Generator[simpy.Event, Any, None]:
        """A visit at a real charger: remote start with the rig's test card, its measured power
        into the site's power until the EV leaves, then remote stop."""
        arrival, bay, act = visit.arrival, visit.bay, self.conductor.act
        assert bay is not None and self.hardware is not None
        hardware = self.hardware
        try:
            session = yield act(hardware.start(bay.charger_id, bay.evse_id))
        except Exception as error:  # the run goes on; the refusal is recorded
            self._refuse(visit, getattr(error, "reason", "remote_start_failed"), detail=str(error))
            self._leave(visit)
            return
        visit.real_session = session
        visit.started_at = self.clock.now()
        self._event(
            "start",
            visit,
            real=True,
            session_id=session.session_id,
            transaction_id=session.transaction_ref,
            id_token=hardware.id_token(bay.charger_id),
        )
        if self.app is not None:
            yield act(
                self.app.tell_needs(
                    bay.charger_id, session.transaction_ref, arrival.departure, arrival.need_wh
                )
            )
        leave_s = self.clock.at(arrival.departure)
        if leave_s > self.rules.end_s:
            leave_s, visit.truncated = self.rules.end_s, True
        while self.env.now < leave_s:
            try:
                measured = yield act(hardware.measure(session.session_id))
            except Exception as error:  # a missed reading, not a lost visit
                self._event("real_measure_failed", visit, detail=str(error))
            else:
                visit.real_session = session = measured.session
                self._set_power(bay, measured.power_w)
                if session.state is not SessionState.ACTIVE:  # the charger (or CSMS) ended it
                    visit.ended_by_charger = True
                    visit.stopped_at = self.clock.now()
                    self._event("stopped_by_charger", visit, real=True)
                    yield self.env.timeout(max(0.0, leave_s - self.env.now))
                    break
            yield self.env.timeout(max(0.0, min(self.rules.real_poll_s, leave_s - self.env.now)))
        if session.state is SessionState.ACTIVE:
            self._set_power(bay, 0.0)  # the EV leaves: the charger stops delivering now
            try:
                visit.real_session = session = yield act(hardware.stop(session.session_id))
            except Exception as error:  # recorded; the session stays as last seen
                self._event("real_stop_failed", visit, detail=str(error))
            visit.stopped_at = self.clock.now()
            self._event("stop", visit, real=True, energy_wh=session.energy_wh)
        self._set_power(bay, 0.0)
        visit.meter_stop_wh = session.meter_stop_wh
        self._leave(visit)

    def _set_power(self, bay: Bay, power_w: float) -> None:
        self.power.set(self.env.now, bay.spec.site_id, bay.charger_id, bay.evse_id, power_w)

    def _charge(self, visit: Visit) -> Generator[simpy.Event, Any, None]:
        """Draw what the EV accepts within the charger's limit until the driver leaves.

        The draw is re-decided every power step, when the charger's composite limit changes
        (a new charging profile interrupts the wait), and when the EV's need is met.
        """
        arrival, ev, bay = visit.arrival, visit.ev, visit.bay
        assert bay is not None
        leave_s = self.clock.at(arrival.departure)
        if leave_s > self.rules.end_s:
            leave_s, visit.truncated = self.rules.end_s, True
        evse = bay.charger.evses[bay.evse_id]
        key = (bay.charger_id, bay.evse_id)
        while self.env.now < leave_s:
            if evse.transaction is not visit.transaction:  # the charger stopped it
                visit.ended_by_charger = True
                visit.stopped_at = self.clock.now()
                if visit.stopped_at == visit.started_at:  # the CSMS refused the start itself
                    self._refuse(visit, "start_rejected")
                else:
                    self._event("stopped_by_charger", visit)
                self._draw(bay, 0.0)
                yield self.env.timeout(leave_s - self.env.now)
                return
            offered_w = bay.charger.offered_w(bay.evse_id)
            power_w = self._draw(bay, ev.draw_w(offered_w, bay.spec.current))
            if power_w == 0.0 and ev.satisfied and visit.satisfied_at is None:
                visit.satisfied_at = self.clock.now()
                self._event("satisfied", visit, metered_wh=round(ev.metered_wh))
                if arrival.leave_when_full:
                    return
            step_s = min(
                leave_s - self.env.now,
                self._seconds_to_limit_change(bay),
                self.rules.power_step_s if power_w else float("inf"),
                ev.seconds_to_satisfied(power_w),
            )
            began_s = self.env.now
            self._charging[key] = self.env.active_process
            try:
                yield self.env.timeout(step_s)
            except simpy.Interrupt:  # the charger's limit changed: decide again now
                pass
            finally:
                self._charging.pop(key, None)
            ev.advance(power_w, self.env.now - began_s)
        self._draw(bay, 0.0)

    def _seconds_to_limit_change(self, bay: Bay) -> float:
        change = bay.charger.next_limit_change(bay.evse_id)
        return float("inf") if change is None else max(0.0, self.clock.at(change) - self.env.now)

    def _limit_changed(self, charger_id: str, evse_id: int) -> None:
        """A charger's limits changed (evse 0: all its EVSEs): wake the EVs charging there."""
        for key, process in list(self._charging.items()):
            if key[0] == charger_id and evse_id in (0, key[1]):
                del self._charging[key]  # one interrupt per wait
                process.interrupt("limit changed")

    def _draw(self, bay: Bay, power_w: float) -> float:
        drawn_w = bay.charger.set_power(bay.evse_id, power_w)
        self.power.set(self.env.now, bay.spec.site_id, bay.charger_id, bay.evse_id, drawn_w)
        return drawn_w

    def _claim(self, visit: Visit) -> Bay | None:
        arrival = visit.arrival
        if arrival.station_id is None:
            bay = self.fleet.claim_any(arrival.site_id)
            if bay is None:
                self._refuse(visit, "no_free_evse")
            return bay
        bay = self.fleet.claim_at(arrival.station_id)
        if bay is not None:
            return bay
        known = arrival.station_id in self.fleet.specs
        reason = "station_busy" if known else "unknown_station"
        if self.rules.unknown_station == "refuse":
            self._refuse(visit, reason)
            return None
        bay = self.fleet.claim_any(arrival.site_id)
        if bay is None:
            self._refuse(visit, "no_free_evse")
            return None
        visit.remapped = reason
        self._event("station_remapped", visit, station_id=arrival.station_id, reason=reason)
        return bay

    def _refuse(self, visit: Visit, reason: str, **details: Any) -> None:
        visit.refused = reason
        self._event("refused", visit, reason=reason, **details)

    def _leave(self, visit: Visit) -> None:
        visit.departed_at = self.clock.now()
        self._event("departure", visit, truncated=visit.truncated)
        if visit.bay is not None:
            if visit.transaction is not None and visit.bay.charger is not None:
                evse = visit.bay.charger.evses[visit.bay.evse_id]
                visit.meter_stop_wh = evse.meter.register_wh()
            self.fleet.release(visit.bay)

    def _event(self, kind: str, visit: Visit, **fields: Any) -> None:
        bay = visit.bay
        self.recorder.event(
            kind,
            arrival_id=visit.arrival.arrival_id,
            site_id=visit.arrival.site_id,
            charger_id=bay.charger_id if bay else None,
            evse_id=bay.evse_id if bay else None,
            **fields,
        )
