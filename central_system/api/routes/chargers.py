from __future__ import annotations

from fastapi import APIRouter, status

from central_system.api.deps import Gateway, Remote, Service
from central_system.api.schemas import ChargerCreate, ChargerPublic, CommandStatus, RemoteStart
from central_system.errors import NotFound

router = APIRouter(prefix="/chargers", tags=["chargers"])


@router.get("", response_model=list[ChargerPublic])
async def list_chargers(service: Service, gateway: Gateway):
    online = gateway.online()
    return [ChargerPublic.of(c, c.charger_id in online) for c in await service.list_chargers()]


@router.post("", response_model=ChargerPublic, status_code=status.HTTP_201_CREATED)
async def register_charger(body: ChargerCreate, service: Service, gateway: Gateway):
    charger = await service.register_charger(body.charger_id, body.ocpp_version)
    return ChargerPublic.of(charger, gateway.is_online(charger.charger_id))


@router.get("/{charger_id}", response_model=ChargerPublic)
async def get_charger(charger_id: str, service: Service, gateway: Gateway):
    charger = await service.get_charger(charger_id)
    if charger is None:
        raise NotFound(f"charger {charger_id!r} is not registered", charger_id=charger_id)
    return ChargerPublic.of(charger, gateway.is_online(charger_id))


@router.post(
    "/{charger_id}/remote-start",
    response_model=CommandStatus,
    responses={404: {}, 409: {}, 502: {}, 503: {}},
)
async def remote_start(charger_id: str, body: RemoteStart, remote: Remote):
    """Ask the charger to start a session for a driver's id token on an available EVSE."""
    return CommandStatus(status=await remote.start(charger_id, body.id_token, body.evse_id))
