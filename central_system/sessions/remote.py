"""Remote start and stop: the operator's commands, checked against the domain rules first."""

from __future__ import annotations

import itertools

from central_system.domain.model import AuthorizationStatus, SessionState
from central_system.errors import Conflict, NotFound
from central_system.ocpp.gateway import ChargerGateway
from central_system.sessions.service import ChargingService


class RemoteControl:
    def __init__(self, service: ChargingService, gateway: ChargerGateway) -> None:
        self._service = service
        self._gateway = gateway
        self._remote_start_ids = itertools.count(1)

    async def start(self, charger_id: str, id_token: str, evse_id: int = 1) -> str:
        if await self._service.get_charger(charger_id) is None:
            raise NotFound(f"charger {charger_id!r} is not registered", charger_id=charger_id)
        link = self._gateway.link(charger_id)
        authorization = await self._service.authorize(id_token)
        if authorization is not AuthorizationStatus.ACCEPTED:
            raise Conflict(
                f"id token is {authorization.value}", id_token=id_token, status=authorization.value
            )
        if not await self._service.connector_free(charger_id, evse_id):
            raise Conflict(
                f"EVSE {evse_id} of {charger_id} is not available",
                charger_id=charger_id,
                evse_id=evse_id,
            )
        return await link.remote_start(id_token, evse_id, next(self._remote_start_ids))

    async def stop(self, session_id: int) -> str:
        session = await self._service.get_session(session_id)
        if session is None:
            raise NotFound(f"session {session_id} does not exist", session_id=session_id)
        if session.state is not SessionState.ACTIVE:
            raise Conflict(f"session {session_id} is {session.state.value}", session_id=session_id)
        return await self._gateway.link(session.charger_id).remote_stop(session.transaction_ref)
