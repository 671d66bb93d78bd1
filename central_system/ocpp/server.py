"""The OCPP WebSocket endpoint `ws://HOST:PORT/ocpp/{charger_id}` for both protocol versions.

Unknown charger ids are refused during the opening handshake (HTTP 404), before any OCPP
message, unless auto-registration is on. The subprotocol the charger offers picks the adapter.
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
from central_system.ocpp.gateway import ChargerGateway
from central_system.ocpp.v16 import CentralSystemV16
from central_system.ocpp.v201 import CentralSystemV201
from central_system.sessions.service import ChargingService
from ocppj import FrameObserver, TappedConnection

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
    ) -> None:
        self._service = service
        self._gateway = gateway
        self._clock = clock
        self._settings = settings
        self._frame_observer = frame_observer
        self._server: Server | None = None
        self._closing: set[asyncio.Future] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self, host: str, port: int) -> None:
        self._server = await serve(
            self._serve,
            host,
            port,
            subprotocols=SUBPROTOCOLS,
            process_request=self._admit,
            compression=None,  # chargers rarely negotiate it; it costs CPU per frame
            max_size=2**20,
            ping_interval=60,
            ping_timeout=60,
        )
        log.info("OCPP endpoint listening on ws://%s:%s/ocpp/{charger_id}", host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()  # closes every charger connection with 1001 going away
            await self._server.wait_closed()
            self._server = None

    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        charger_id = charger_id_from_path(request.path)
        if charger_id is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "expected /ocpp/{charger_id}\n")
        if not await self._service.admit(charger_id):
            log.warning("refused unknown charger %r at the handshake", charger_id)
            return connection.respond(HTTPStatus.NOT_FOUND, f"unknown charger {charger_id}\n")
        return None

    async def _serve(self, websocket: ServerConnection) -> None:
        charger_id = charger_id_from_path(websocket.request.path)
        version = OcppVersion.from_subprotocol(websocket.subprotocol)
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
        previous = self._gateway.attach(endpoint)
        if previous is not None:  # the charger reconnected before we noticed it was gone
            log.info("%s reconnected; closing its previous connection", charger_id)
            closing = asyncio.ensure_future(previous.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        log.info("%s connected over %s", charger_id, websocket.subprotocol)
        try:
            await endpoint.start()
        except ConnectionClosed:
            pass
        except Exception:  # a bug in one connection must not take the server down
            log.exception("%s: connection handler failed", charger_id)
        finally:
            self._gateway.detach(endpoint)
            log.info("%s disconnected", charger_id)
