"""The central system's Prometheus metrics (served at ``GET /metrics`` on the REST API's port).

Each :class:`Metrics` has a registry of its own, so that several central systems may run in one
process (the tests, the twin). What is counted, and where:

- OCPP connections, calls and handshakes: a :class:`ConnectionTap` sees every frame of a
  charger's connection (the server makes it the endpoint's ``MessageTap``: an incoming frame
  comes parsed, as the endpoint parsed it for routing), so both protocol versions are counted
  alike without their adapters knowing;
- sessions and energy: :class:`Metrics` is a session listener of the charging service;
- gauges that the database knows best (active sessions, the token outbox) are read at scrape
  time by :meth:`Metrics.refresh`.

Durations are wall-clock (``time.perf_counter``), not the injected clock: they measure this
process, not the simulated world.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING

from ocpp.v16.enums import Action as V16Action
from ocpp.v201.enums import Action as V201Action
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from central_system.domain.model import ChargingSession, MeterSample, OcppVersion, SessionState
from central_system.store import stats

if TYPE_CHECKING:
    from central_system.store.database import Database
    from central_system.tokens.service import TokenService

log = logging.getLogger(__name__)

CALL, CALLRESULT, CALLERROR = 2, 3, 4
ACTIONS = {
    OcppVersion.V16: frozenset(a.value for a in V16Action),
    OcppVersion.V201: frozenset(a.value for a in V201Action),
}
# CALLERROR codes of both versions (1.6 spells two of them its own way); a vendor's own code
# is counted as "other", so a charger cannot grow the label set.
ERROR_CODES = frozenset(
    "NotImplemented NotSupported InternalError ProtocolError SecurityError FormatViolation "
    "FormationViolation PropertyConstraintViolation OccurrenceConstraintViolation "
    "OccurenceConstraintViolation TypeConstraintViolation GenericError "
    "MessageTypeNotSupported RpcFrameworkError".split()
)
RESULT, UNANSWERED, INVALID = "result", "unanswered", "(invalid)"
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Stops re-sent after a lost answer reach the listeners again; these many are remembered.
_RECENT_STOPS = 10_000


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        versions = ["ocpp_version"]
        calls = ["ocpp_version", "action", "outcome"]
        self.connected = Gauge(
            "evch_ocpp_connected_chargers", "Chargers connected now", versions, registry=registry
        )
        self.handshake_refusals = Counter(
            "evch_ocpp_handshake_refusals",
            "WebSocket handshakes refused, by HTTP status (not_found: unknown charger or path)",
            ["reason"],
            registry=registry,
        )
        self.calls_received = Counter(
            "evch_ocpp_calls_received",
            "CALLs chargers sent, by how they were answered: result, a CALLERROR code, or "
            "unanswered (the connection closed first)",
            calls,
            registry=registry,
        )
        self.calls_sent = Counter(
            "evch_ocpp_calls_sent",
            "CALLs the central system sent, by the charger's answer: result, a CALLERROR "
            "code, or unanswered",
            calls,
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "evch_ocpp_call_handling_seconds",
            "From a charger's CALL received to its answer sent",
            ["ocpp_version", "action"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.sessions_active = Gauge(
            "evch_sessions_active", "Charging sessions under way (stored)", registry=registry
        )
        self.sessions_started = Counter(
            "evch_sessions_started", "Charging sessions accepted and started", registry=registry
        )
        self.sessions_stopped = Counter(
            "evch_sessions_stopped", "Charging sessions stopped", registry=registry
        )
        self.energy_delivered = Counter(
            "evch_energy_delivered_wh",
            "Energy of the stopped sessions (meter stop - start), Wh",
            registry=registry,
        )
        self.db_write_queue = Gauge(
            "evch_db_write_queue_depth", "Writes waiting for the database writer", registry=registry
        )
        self.token_outbox: Gauge | None = None
        for version in OcppVersion:
            self.connected.labels(version.value)
        self._refreshers: list[Callable[[], Awaitable[None]]] = []
        self._stops_counted: OrderedDict[int, None] = OrderedDict()

    # -- wiring ------------------------------------------------------------------------------
    def watch_database(self, db: Database) -> None:
        self.db_write_queue.set_function(lambda: db.queued_writes)

        async def active_sessions() -> None:
            self.sessions_active.set(await db.read(stats.count_sessions, SessionState.ACTIVE))

        self._refreshers.append(active_sessions)

    def watch_tokens(self, tokens: TokenService) -> None:
        self.token_outbox = Gauge(
            "evch_token_outbox_pending",
            "Token transactions waiting to be sent to the ledger, by kind",
            ["kind"],
            registry=self.registry,
        )
        outbox = self.token_outbox

        async def pending() -> None:
            counts = await tokens.database.read(stats.pending_token_transactions)
            outbox.clear()
            outbox.labels("proof_of_charge").set(0)
            for kind, count in counts.items():
                outbox.labels(kind).set(count)

        self._refreshers.append(pending)

    async def refresh(self) -> None:
        """Read what the database knows; a failure leaves the last values (and is logged)."""
        for refresh in self._refreshers:
            try:
                await refresh()
            except Exception:
                log.warning("metrics: %s not refreshed", refresh.__name__, exc_info=True)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    # -- OCPP --------------------------------------------------------------------------------
    def connection(self, charger_id: str, version: OcppVersion) -> ConnectionTap:
        """The tap of a charger's new connection; call its ``closed()`` when it ends."""
        return ConnectionTap(self, charger_id, version)

    def handshake_answered(self, status_code: int) -> None:
        if status_code != 101:  # 101 Switching Protocols: admitted
            self.handshake_refusals.labels(_reason(status_code)).inc()

    # -- the charging service's listener -----------------------------------------------------
    def session_started(self, session: ChargingSession, *, resumed: bool = False) -> None:
        if not resumed:
            self.sessions_started.inc()

    def session_stopped(self, session: ChargingSession) -> None:
        if session.session_id in self._stops_counted:  # a re-sent stop
            return
        self._stops_counted[session.session_id] = None
        if len(self._stops_counted) > _RECENT_STOPS:
            self._stops_counted.popitem(last=False)
        self.sessions_stopped.inc()
        if session.energy_wh is not None and session.energy_wh > 0:
            self.energy_delivered.inc(session.energy_wh)

    def session_metered(self, session_id: int, samples: Sequence[MeterSample]) -> None:
        """Energy is counted when a session stops."""

    def driver_needs(self, session: ChargingSession) -> None:
        """Not counted."""

    def sessions_changed(self, charger_id: str) -> None:
        """Not counted."""


class ConnectionTap:
    """Sees every frame of one charger connection (an ``ocppj.MessageTap``), counts its calls
    by action and answer, times the charger's calls and knows how many wait for their answer."""

    def __init__(self, metrics: Metrics, charger_id: str, version: OcppVersion):
        self._metrics = metrics
        self._charger_id = charger_id
        self._version = version
        self._actions = ACTIONS[version]
        self._received: dict[str, tuple[str, float]] = {}  # message id -> (action, t0)
        self._sent: dict[str, str] = {}  # message id -> action
        metrics.connected.labels(version.value).inc()

    @property
    def in_flight(self) -> int:
        """The charger's calls not answered yet."""
        return len(self._received)

    def received(self, message: object) -> None:
        """A frame from the charger, as the endpoint parsed it (None: not JSON)."""
        try:
            self._incoming(message)
        except Exception:  # counting must never break a connection
            log.exception("%s: frame not counted", self._charger_id)

    def sent(self, frame: str) -> None:
        """A frame to the charger (its only parse: the central system wrote it)."""
        try:
            self._outgoing(json.loads(frame))
        except Exception:  # counting must never break a connection
            log.exception("%s: frame not counted", self._charger_id)

    def closed(self) -> None:
        """The connection ended: what is still waiting is unanswered for good."""
        version = self._version.value
        for action, _t0 in self._received.values():
            self._metrics.calls_received.labels(version, action, UNANSWERED).inc()
        for action in self._sent.values():
            self._metrics.calls_sent.labels(version, action, UNANSWERED).inc()
        self._received.clear()
        self._sent.clear()
        self._metrics.connected.labels(version).dec()

    def _incoming(self, message: object) -> None:
        kind, message_id = _head(message)
        if kind == CALL:
            self._received[message_id] = (self._action(message), time.perf_counter())
        elif kind in (CALLRESULT, CALLERROR):
            action = self._sent.pop(message_id, None)
            if action is not None:
                outcome = _outcome(message)
                self._metrics.calls_sent.labels(self._version.value, action, outcome).inc()
        else:  # not OCPP-J: answered with a CALLERROR (id "-1" when it has none)
            self._received[message_id or "-1"] = (INVALID, time.perf_counter())

    def _outgoing(self, message: object) -> None:
        kind, message_id = _head(message)
        if kind == CALL:
            self._sent[message_id] = self._action(message)
        elif kind in (CALLRESULT, CALLERROR):
            received = self._received.pop(message_id, None)
            if received is not None:
                action, t0 = received
                version = self._version.value
                self._metrics.calls_received.labels(version, action, _outcome(message)).inc()
                self._metrics.handling_seconds.labels(version, action).observe(
                    time.perf_counter() - t0
                )

    def _action(self, call: list) -> str:
        """The CALL's action, if the version has it (a charger cannot grow the label set)."""
        action = call[2] if len(call) > 2 else None
        return action if isinstance(action, str) and action in self._actions else INVALID


def _head(message: object) -> tuple[int | None, str | None]:
    """(message type, message id) of an OCPP-J frame; None for what is not one."""
    if isinstance(message, list) and len(message) >= 2 and isinstance(message[1], str):
        kind = message[0]
        return (kind if kind in (CALL, CALLRESULT, CALLERROR) else None), message[1]
    return None, None


def _outcome(message: list) -> str:
    if message[0] == CALLRESULT:
        return RESULT
    code = message[2] if len(message) > 2 else None
    return code if code in ERROR_CODES else "other"


def _reason(status_code: int) -> str:
    """``not_found``, ``unauthorized``, ``forbidden``, ``service_unavailable``, ..."""
    try:
        return HTTPStatus(status_code).name.lower()
    except ValueError:
        return str(status_code)
