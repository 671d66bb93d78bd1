"""The charging service: the version-agnostic rules of the central system.

Each public method is one atomic database operation, committed before it returns, so the
charger's answer is only sent for state that survives a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from central_system.clock import Clock
from central_system.domain.model import (
    AuthorizationStatus,
    Charger,
    ChargerIdentity,
    ChargingSession,
    ConnectorStatus,
    IdToken,
    IdTokenStatus,
    MeterRegistration,
    MeterSample,
    OcppVersion,
    SessionState,
    energy_register_wh,
)
from central_system.metering.verification import EnergyVerification, verify_session
from central_system.pricing import PricedInterval
from central_system.store import repository as repo
from central_system.store.database import Database


@dataclass(frozen=True)
class SessionStart:
    """What a charger reports when a transaction starts (StartTransaction / Started event)."""

    charger_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    started_at: datetime
    # 2.0.1 chargers name their transactions; 1.6 transactions get the session id.
    transaction_ref: str | None = None
    meter_start_wh: int | None = None
    offline: bool = False
    remote_start_id: int | None = None
    seq_no: int | None = None
    readings: tuple[MeterSample, ...] = ()


@dataclass(frozen=True)
class SessionStop:
    charger_id: str
    transaction_ref: str
    stopped_at: datetime
    meter_stop_wh: int | None = None
    reason: str | None = None
    id_token: str | None = None
    seq_no: int | None = None
    readings: tuple[MeterSample, ...] = ()
    # 2.0.1 may report a stop for a transaction whose start we never saw.
    evse_id: int | None = None
    connector_id: int | None = None
    offline: bool = False


log = logging.getLogger(__name__)

# A heartbeat proves the charger is alive; storing that more often than this is wasted writes.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


class SessionListener(Protocol):
    """Told of session changes once they are committed (the site planner, billing)."""

    def session_started(self, session: ChargingSession, *, resumed: bool = False) -> None:
        """A session started, or (``resumed``) was already active when the CSMS started."""
        ...

    def session_metered(self, session_id: int, samples: Sequence[MeterSample]) -> None: ...
    def session_stopped(self, session: ChargingSession) -> None: ...
    def driver_needs(self, session: ChargingSession) -> None: ...

    def sessions_changed(self, charger_id: str) -> None:
        """Our answer to the charger's start or stop has gone out: act on it now."""
        ...


class Biller(Protocol):
    async def bill(self, session: ChargingSession) -> ChargingSession:
        """The stopped session with its bill stored (or unchanged where energy is unpriced)."""
        ...


class ChargingService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        auto_register: bool = False,
        biller: Biller | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self.auto_register = auto_register
        self.biller = biller
        self._last_seen_stored: dict[str, datetime] = {}
        self.listeners: list[SessionListener] = []

    # -- chargers ----------------------------------------------------------------------------
    async def admit(self, charger_id: str) -> bool:
        """May this charger id open a connection? Registers it when auto-registration is on."""
        if await self._db.read(repo.charger_exists, charger_id):
            return True
        if not self.auto_register:
            return False
        await self._db.write(repo.register_charger, charger_id, self._clock.now())
        return True

    async def register_charger(
        self, charger_id: str, ocpp_version: OcppVersion | None = None
    ) -> Charger:
        return await self._db.write(
            repo.register_charger, charger_id, self._clock.now(), ocpp_version
        )

    async def register_meter(
        self, charger_id: str, evse_id: int, meter_serial: str, public_key_der: bytes
    ) -> MeterRegistration:
        """Onboarding: the meter of an EVSE and the public key printed on it."""
        meter = MeterRegistration(
            charger_id, evse_id, meter_serial, public_key_der, self._clock.now()
        )
        return await self._db.write(repo.register_meter, meter)

    async def meters(self, charger_id: str | None = None) -> list[MeterRegistration]:
        return await self._db.read(repo.list_meters, charger_id)

    async def record_boot(
        self, charger_id: str, version: OcppVersion, identity: ChargerIdentity
    ) -> datetime:
        now = self._clock.now()
        await self._db.write(repo.record_boot, charger_id, version, identity, now)
        self._last_seen_stored[charger_id] = now
        return now

    async def record_heartbeat(self, charger_id: str) -> datetime:
        now = self._clock.now()
        stored = self._last_seen_stored.get(charger_id)
        if stored is None or now - stored >= LAST_SEEN_RESOLUTION:
            await self._db.write(repo.touch_charger, charger_id, now)
            self._last_seen_stored[charger_id] = now
        return now

    async def record_status(
        self,
        charger_id: str,
        evse_id: int,
        connector_id: int,
        status: ConnectorStatus,
        raw_status: str,
        error_code: str | None,
        at: datetime,
    ) -> None:
        await self._db.write(
            repo.record_connector_status,
            charger_id,
            evse_id,
            connector_id,
            status,
            raw_status,
            error_code,
            at,
        )

    async def record_report(self, charger_id: str, values: dict[str, object]) -> None:
        """Keep what a charger reported about itself (NotifyReport, DataTransfer)."""
        await self._db.write(repo.record_report, charger_id, values)

    async def get_charger(self, charger_id: str) -> Charger | None:
        return await self._db.read(repo.get_charger, charger_id)

    async def list_chargers(self) -> list[Charger]:
        return await self._db.read(repo.list_chargers)

    # -- drivers -----------------------------------------------------------------------------
    async def upsert_id_token(self, token: IdToken) -> IdToken:
        return await self._db.write(repo.upsert_id_token, token)

    async def list_id_tokens(self) -> list[IdToken]:
        return await self._db.read(repo.list_id_tokens)

    async def authorize(self, id_token: str) -> AuthorizationStatus:
        return await self._db.read(_authorize, id_token, self._clock.now(), False)

    # -- sessions ----------------------------------------------------------------------------
    async def start_session(self, start: SessionStart) -> ChargingSession:
        """Record a start; the session's `authorization` is the answer for the charger."""
        session = await self._db.write(_start_session, start, self._clock.now())
        if session.state is SessionState.ACTIVE:
            for listener in self.listeners:
                listener.session_started(session)
        return session

    async def update_session(
        self,
        charger_id: str,
        transaction_ref: str,
        readings: tuple[MeterSample, ...],
        *,
        seq_no: int | None = None,
        id_token: str | None = None,
    ) -> ChargingSession | None:
        session = await self._db.write(
            _update_session,
            charger_id,
            transaction_ref,
            readings,
            seq_no,
            id_token,
            self._clock.now(),
        )
        if session is not None:
            self._metered(session.session_id, readings)
        return session

    async def add_meter_values(
        self,
        charger_id: str,
        evse_id: int,
        readings: tuple[MeterSample, ...],
        transaction_ref: str | None = None,
    ) -> None:
        session_id = await self._db.write(
            _add_meter_values, charger_id, evse_id, readings, transaction_ref
        )
        if session_id is not None:
            self._metered(session_id, readings)

    async def stop_session(self, stop: SessionStop) -> ChargingSession | None:
        session = await self._db.write(_stop_session, stop)
        if session is not None:
            if session.verification is None:
                session = await self._verify_energy(session.session_id)
            if self.biller is not None and session.total_cost_minor is None:
                try:
                    session = await self.biller.bill(session)
                except Exception:  # the stop is committed: answer it; billing can be redone
                    log.exception("session %s: not billed", session.session_id)
            for listener in self.listeners:
                listener.session_stopped(session)
        return session

    async def _verify_energy(self, session_id: int) -> ChargingSession:
        """Judge the stopped session's signed readings and store the verdict with it. The
        readings are loaded and the signatures checked on a reader thread: the single writer
        thread, which every charger's messages wait on, only stores the verdict."""
        verdict = await self._db.read(_judge_energy, session_id)
        if not verdict.verified:
            log.warning("session %s: energy not verified: %s", session_id, verdict.reason)
        return await self._db.write(
            repo.record_verification, session_id, verdict.status, verdict.reason, verdict.energy_wh
        )

    async def resume_sessions(self) -> int:
        """Tell the listeners of the sessions still active from before a restart."""
        active = await self._db.read(repo.list_sessions, None, SessionState.ACTIVE, 1_000_000, 0)
        for session in active:
            for listener in self.listeners:
                listener.session_started(session, resumed=True)
        return len(active)

    async def set_driver_needs(
        self, session_id: int, departure_at: datetime, energy_target_wh: int
    ) -> ChargingSession | None:
        """The driver's departure and energy, from their app; None for an unknown session."""
        session = await self._db.write(
            repo.set_driver_needs, session_id, departure_at, energy_target_wh
        )
        if session is not None and session.state is SessionState.ACTIVE:
            for listener in self.listeners:
                listener.driver_needs(session)
        return session

    async def find_session(self, charger_id: str, transaction_ref: str) -> ChargingSession | None:
        return await self._db.read(_find_session, charger_id, transaction_ref)

    def sessions_changed(self, charger_id: str) -> None:
        for listener in self.listeners:
            listener.sessions_changed(charger_id)

    def _metered(self, session_id: int, readings: tuple[MeterSample, ...]) -> None:
        if readings:
            for listener in self.listeners:
                listener.session_metered(session_id, readings)

    async def connector_free(self, charger_id: str, evse_id: int) -> bool:
        return await self._db.read(_connector_free, charger_id, evse_id)

    async def get_session(
        self, session_id: int, *, with_readings: bool = True
    ) -> ChargingSession | None:
        return await self._db.read(repo.get_session, session_id, with_readings)

    async def session_charges(self, session_id: int) -> list[PricedInterval]:
        """The lines of a session's bill (empty until it is billed, or where unpriced)."""
        return await self._db.read(repo.session_charges, session_id)

    async def list_sessions(
        self,
        charger_id: str | None = None,
        state: SessionState | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[ChargingSession]:
        return await self._db.read(repo.list_sessions, charger_id, state, limit, offset)


# -- the rules, as functions of one database transaction ---------------------------------------


def _authorize(db: Session, id_token: str, now: datetime, starting: bool) -> AuthorizationStatus:
    token = repo.get_id_token(db, id_token)
    if token is None:
        return AuthorizationStatus.INVALID
    if token.status is IdTokenStatus.BLOCKED:
        return AuthorizationStatus.BLOCKED
    if token.expires_at is not None and token.expires_at <= now:
        return AuthorizationStatus.EXPIRED
    if starting and repo.token_in_active_session(db, id_token):
        return AuthorizationStatus.CONCURRENT_TX
    return AuthorizationStatus.ACCEPTED


def _judge_energy(db: Session, session_id: int) -> EnergyVerification:
    """The verdict on a stopped session's signed readings against its meter's registered key."""
    session = repo.get_session(db, session_id)
    return verify_session(session, repo.get_meter(db, session.charger_id, session.evse_id))


def _find_session(db: Session, charger_id: str, transaction_ref: str) -> ChargingSession | None:
    row = repo.find_session_row(db, charger_id, transaction_ref)
    return None if row is None else repo.get_session(db, row.session_id, with_readings=False)


def _in_service(db: Session, charger_id: str, evse_id: int) -> bool:
    """Neither out of service (Unavailable) nor broken (Faulted), as the charger last said."""
    charger = repo.get_charger(db, charger_id)
    if charger is None:
        return False
    states = [c.status for c in charger.connectors if c.evse_id == evse_id]
    return not any(s in (ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED) for s in states)


def _connector_free(db: Session, charger_id: str, evse_id: int) -> bool:
    """A remote start may go only where the connector is in service and not in use."""
    return _in_service(db, charger_id, evse_id) and (
        repo.active_session_on(db, charger_id, evse_id) is None
    )


def _close_superseded(db: Session, charger_id: str, evse_id: int, at: datetime) -> None:
    """A new transaction on an EVSE proves the previous one ended: its stop was lost."""
    stale = repo.active_session_on(db, charger_id, evse_id)
    if stale is not None:
        row = repo.find_session_row(db, charger_id, stale.transaction_ref)
        repo.update_session(
            db, row, state=SessionState.COMPLETED, stopped_at=at, stop_reason="Superseded"
        )


def _start_session(db: Session, start: SessionStart, now: datetime) -> ChargingSession:
    existing = (
        repo.find_session_row(db, start.charger_id, start.transaction_ref)
        if start.transaction_ref
        else None
    )
    if existing is not None:  # a re-sent Started event
        session = repo.get_session(db, existing.session_id, with_readings=False)
        return session
    if start.transaction_ref is None:
        duplicate = repo.find_duplicate_start(
            db, start.charger_id, start.connector_id, start.id_token, start.started_at
        )
        if duplicate is not None:
            return duplicate

    if start.id_token is None:  # 2.0.1 may start before authorisation (e.g. on cable plug-in)
        authorization = AuthorizationStatus.ACCEPTED
    else:
        authorization = _authorize(db, start.id_token, now, starting=True)
    if authorization is AuthorizationStatus.ACCEPTED and not _in_service(
        db, start.charger_id, start.evse_id
    ):
        authorization = AuthorizationStatus.INVALID
    _close_superseded(db, start.charger_id, start.evse_id, start.started_at)
    meter_start = start.meter_start_wh
    if meter_start is None:
        meter_start = energy_register_wh(start.readings, first=True)
    session = repo.insert_session(
        db,
        ChargingSession(
            session_id=0,
            charger_id=start.charger_id,
            evse_id=start.evse_id,
            connector_id=start.connector_id,
            transaction_ref=start.transaction_ref or "",
            id_token=start.id_token,
            state=(
                SessionState.ACTIVE
                if authorization is AuthorizationStatus.ACCEPTED
                else SessionState.REJECTED
            ),
            started_at=start.started_at,
            meter_start_wh=meter_start,
            offline=start.offline,
            authorization=authorization,
            remote_start_id=start.remote_start_id,
            last_seq_no=start.seq_no,
        ),
    )
    repo.add_readings(db, start.charger_id, start.evse_id, session.session_id, list(start.readings))
    return session


def _update_session(
    db: Session,
    charger_id: str,
    transaction_ref: str,
    readings: tuple[MeterSample, ...],
    seq_no: int | None,
    id_token: str | None,
    now: datetime,
) -> ChargingSession | None:
    row = repo.find_session_row(db, charger_id, transaction_ref)
    if row is None:
        return None
    if _already_seen(row, seq_no):
        return repo.get_session(db, row.session_id, with_readings=False)
    repo.add_readings(db, charger_id, row.evse_id, row.session_id, list(readings))
    changes: dict[str, object] = {}
    if seq_no is not None:
        changes["last_seq_no"] = max(seq_no, row.last_seq_no or 0)
    if id_token is not None and row.id_token is None:
        # 2.0.1 may start a transaction before the driver is known: check the token now.
        authorization = _authorize(db, id_token, now, starting=True)
        changes.update(id_token=id_token, authorization=authorization)
        if authorization is not AuthorizationStatus.ACCEPTED:
            changes["state"] = SessionState.REJECTED
    if row.meter_start_wh is None:
        changes["meter_start_wh"] = energy_register_wh(readings, first=True)
    return repo.update_session(db, row, **changes)


def _add_meter_values(
    db: Session,
    charger_id: str,
    evse_id: int,
    readings: tuple[MeterSample, ...],
    transaction_ref: str | None,
) -> int | None:
    """Store the readings; returns the session they belong to, if any."""
    session_id = None
    if transaction_ref is not None:
        row = repo.find_session_row(db, charger_id, transaction_ref)
        session_id = row.session_id if row else None
    if session_id is None:  # 2.0.1 MeterValues carry no transaction: use the EVSE's session
        active = repo.active_session_on(db, charger_id, evse_id)
        session_id = active.session_id if active else None
    repo.add_readings(db, charger_id, evse_id, session_id, list(readings))
    return session_id


def _already_seen(row, seq_no: int | None) -> bool:
    """2.0.1 numbers a transaction's events: one we have seen is a re-send after a lost answer."""
    return seq_no is not None and row.last_seq_no is not None and seq_no <= row.last_seq_no


def _stop_session(db: Session, stop: SessionStop) -> ChargingSession | None:
    row = repo.find_session_row(db, stop.charger_id, stop.transaction_ref)
    if row is None:
        # The start was never received (lost or started long before): keep what we know.
        # A 2.0.1 Ended event need not name its EVSE; 0 then stands for "the charger".
        session = repo.insert_session(
            db,
            ChargingSession(
                session_id=0,
                charger_id=stop.charger_id,
                evse_id=stop.evse_id or 0,
                connector_id=stop.connector_id or 1,
                transaction_ref=stop.transaction_ref,
                id_token=stop.id_token,
                state=SessionState.ACTIVE,
                started_at=min((r.timestamp for r in stop.readings), default=stop.stopped_at),
                offline=stop.offline,
            ),
        )
        row = repo.find_session_row(db, stop.charger_id, session.transaction_ref)
    elif _already_seen(row, stop.seq_no) or row.stopped_at is not None:
        # A stop re-sent after a lost answer: the first one counts.
        return repo.get_session(db, row.session_id, with_readings=False)
    repo.add_readings(db, stop.charger_id, row.evse_id, row.session_id, list(stop.readings))
    meter_stop = stop.meter_stop_wh
    if meter_stop is None:
        meter_stop = energy_register_wh(stop.readings)
    if meter_stop is None:  # fall back to the last register reading of the whole session
        meter_stop = energy_register_wh(repo.get_session(db, row.session_id).readings)
    changes: dict[str, object] = {
        "stopped_at": stop.stopped_at,
        "meter_stop_wh": meter_stop,
        "stop_reason": stop.reason,
    }
    if row.state == SessionState.ACTIVE.value:
        changes["state"] = SessionState.COMPLETED
    if stop.seq_no is not None:
        changes["last_seq_no"] = max(stop.seq_no, row.last_seq_no or 0)
    if stop.id_token is not None and row.id_token is None:
        changes["id_token"] = stop.id_token
    return repo.update_session(db, row, **changes)
