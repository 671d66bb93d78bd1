"""The OCPP WebSocket endpoint `ws://HOST:PORT/ocpp/{charger_id}` for both protocol versions.

Unknown charger ids are refused during the opening handshake (HTTP 404), before any OCPP
message, unless auto-registration is on. The subprotocol the charger offers picks the adapter.
The deployment's security profile (settings.security_profile) is enforced first: Basic Auth
(401), TLS only (`wss://`), client certificates of the very charger (403); see
`handshake_security`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from http import HTTPStatus
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from central_system.clock import Clock
from central_system.config import Settings
from central_system.domain.model import OcppVersion
from central_system.observability.logs import current_charger
from central_system.observability.metrics import ConnectionTap, Metrics
from central_system.ocpp.gateway import ChargerGateway
from central_system.ocpp.handshake_security import check_basic_auth, check_client_certificate
from central_system.ocpp.v16 import CentralSystemV16
from central_system.ocpp.v201 import CentralSystemV201
from central_system.security import ChargerCredentials, server_ssl_context
from central_system.sessions.service import ChargingService
from ocppj import FrameObserver, TappedConnection
from ocppj.redact import redacted_logger

log = logging.getLogger(__name__)

ADAPTERS = {OcppVersion.V16: CentralSystemV16, OcppVersion.V201: CentralSystemV201}
# Preferred first when a charger offers both.
SUBPROTOCOLS = [OcppVersion.V201.subprotocol, OcppVersion.V16.subprotocol]
CHARGER_PATH = re.compile(r"^/ocpp/(?P<charger_id>[^/?#]{1,64})/?(?:\?.*)?$")


def charger_id_from_path(path: str) -> str | None:
    match = CHARGER_PATH.match(path)
    return unquote(match["charger_id"]) if match else None


class OcppServer:
    def __init__(
        self,
        service: ChargingService,
        gateway: ChargerGateway,
        clock: Clock,
        settings: Settings,
        frame_observer: FrameObserver | None = None,
        credentials: ChargerCredentials | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if settings.security_profile in (1, 2) and credentials is None:
            raise ValueError(f"security profile {settings.security_profile} needs credentials")
        self._credentials = credentials
        self._service = service
        self._gateway = gateway
        self._clock = clock
        self._settings = settings
        self._frame_observer = frame_observer
        self._server: Server | None = None
        self._closing: set[asyncio.Future] = set()
        self._metrics = metrics or Metrics()
        self._connections: dict[ConnectionTap, asyncio.Task] = {}  # open ones, their handlers

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[1]

    @property
    def scheme(self) -> str:
        return "wss" if self._settings.security_profile >= 2 else "ws"

    async def start(self, host: str, port: int) -> None:
        self._server = await serve(
            self._serve,
            host,
            port,
            subprotocols=SUBPROTOCOLS,
            process_request=self._admit,
            process_response=self._answered,
            ssl=server_ssl_context(self._settings),
            logger=redacted_logger("websockets.server"),
            compression=None,  # chargers rarely negotiate it; it costs CPU per frame
            max_size=2**20,
            ping_interval=60,
            ping_timeout=60,
        )
        log.info(
            "OCPP endpoint listening on %s://%s:%s/ocpp/{charger_id} (security profile %d)",
            self.scheme,
            host,
            self.port,
            self._settings.security_profile,
        )

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def drain(self, timeout_s: float) -> bool:
        """Stop accepting connections, then wait up to ``timeout_s`` until no charger waits
        for the answer to a call; the connections stay open. False if calls were still open."""
        if self._server is None:
            return True
        self._server.server.close()  # the listening socket only; handshakes under way get 503
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while any(tap.in_flight for tap in self._connections):
            if loop.time() >= deadline:
                waiting = sum(tap.in_flight for tap in self._connections)
                log.warning("%d charger calls still unanswered at shutdown", waiting)
                return False
            await asyncio.sleep(0.01)
        return True

    async def stop(self, timeout_s: float | None = None) -> None:
        """Close every charger connection with 1001 (going away); connection handlers still
        busy after ``timeout_s`` (None: no limit) are cancelled, their answers never sent."""
        if self._server is not None:
            self._server.close()
            try:
                async with asyncio.timeout(timeout_s):
                    await asyncio.shield(self._server.wait_closed())
            except TimeoutError:
                log.warning("%d connection handlers cancelled at shutdown", len(self._connections))
                for handler in self._connections.values():
                    handler.cancel()
                await self._server.wait_closed()
            self._server = None

    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        charger_id = charger_id_from_path(request.path)
        if charger_id is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "expected /ocpp/{charger_id}\n")
        refused = await self._authenticate(connection, request, charger_id)
        if refused is not None:
            return refused
        if not await self._service.admit(charger_id):
            log.warning("refused unknown charger %r at the handshake", charger_id)
            return connection.respond(HTTPStatus.NOT_FOUND, f"unknown charger {charger_id}\n")
        return None

    async def _authenticate(
        self, connection: ServerConnection, request: Request, charger_id: str
    ) -> Response | None:
        """None when the charger proved who it is as the security profile asks; else the refusal.

        In profiles 2 and 3 the TLS handshake came first: a client that does not speak TLS, or
        (profile 3) has no certificate from the configured CA, never gets this far.
        """
        profile = self._settings.security_profile
        if profile in (1, 2):
            assert self._credentials is not None
            return await check_basic_auth(connection, request, charger_id, self._credentials)
        if profile == 3:
            return check_client_certificate(connection, charger_id)
        return None

    def _answered(
        self, _connection: ServerConnection, _request: Request, response: Response
    ) -> None:
        self._metrics.handshake_answered(response.status_code)

    async def _serve(self, websocket: ServerConnection) -> None:
        charger_id = charger_id_from_path(websocket.request.path)
        version = OcppVersion.from_subprotocol(websocket.subprotocol)
        context = current_charger.set(charger_id)  # on every log line of this connection
        tap = self._metrics.connection(charger_id, version)
        self._connections[tap] = asyncio.current_task()
        connection = (
            TappedConnection(websocket, charger_id, self._frame_observer)
            if self._frame_observer
            else websocket
        )
        endpoint = ADAPTERS[version](
            charger_id,
            connection,
            self._service,
            self._clock,
            heartbeat_interval_s=self._settings.heartbeat_interval_s,
            lenient=self._settings.lenient_validation,
        )
        endpoint.tap = tap  # counts the calls from the frames the endpoint parses anyway
        previous = self._gateway.attach(endpoint)
        if previous is not None:  # the charger reconnected before we noticed it was gone
            log.info("%s reconnected; closing its previous connection", charger_id)
            closing = asyncio.ensure_future(previous.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        log.info(
            "%s connected over %s",
            charger_id,
            websocket.subprotocol,
            extra={"ocpp_version": version.value, "remote": websocket.remote_address},
        )
        try:
            await endpoint.start()
        except ConnectionClosed:
            pass
        except Exception:  # a bug in one connection must not take the server down
            log.exception("%s: connection handler failed", charger_id)
        finally:
            self._gateway.detach(endpoint)
            del self._connections[tap]
            tap.closed()
            log.info("%s disconnected", charger_id, extra={"close_code": websocket.close_code})
            current_charger.reset(context)
