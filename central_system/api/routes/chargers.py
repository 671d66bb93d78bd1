from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from central_system.api.auth import DENIED, Admin, Operate, Read
from central_system.api.deps import Gateway, Remote, Service
from central_system.api.schemas import (
    ChargerCreate,
    ChargerPublic,
    CommandStatus,
    MeterCreate,
    MeterPublic,
    RemoteStart,
)
from central_system.errors import NotFound
from central_system.sessions.service import ChargingService

router = APIRouter(prefix="/chargers", tags=["chargers"], responses=DENIED)


@router.get("", response_model=list[ChargerPublic], dependencies=[Read])
async def list_chargers(service: Service, gateway: Gateway):
    online = gateway.online()
    return [ChargerPublic.of(c, c.charger_id in online) for c in await service.list_chargers()]


@router.post(
    "",
    response_model=ChargerPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Operate],
)
async def register_charger(body: ChargerCreate, service: Service, gateway: Gateway):
    charger = await service.register_charger(body.charger_id, body.ocpp_version)
    return ChargerPublic.of(charger, gateway.is_online(charger.charger_id))


@router.get("/{charger_id}", response_model=ChargerPublic, dependencies=[Read])
async def get_charger(charger_id: str, service: Service, gateway: Gateway):
    charger = await service.get_charger(charger_id)
    if charger is None:
        raise NotFound(f"charger {charger_id!r} is not registered", charger_id=charger_id)
    return ChargerPublic.of(charger, gateway.is_online(charger_id))


@router.put(
    "/{charger_id}/meters/{evse_id}",
    response_model=MeterPublic,
    dependencies=[Admin],
    responses={404: {}, 422: {}},
)
async def register_meter(
    charger_id: str, evse_id: Annotated[int, Path(ge=1)], body: MeterCreate, service: Service
):
    """Onboarding (admin): the meter of an EVSE and the public key printed on it, which its
    signed readings are verified against from now on. A second registration replaces the
    first (the meter was exchanged)."""
    await _known_charger(service, charger_id)
    meter = await service.register_meter(
        charger_id, evse_id, body.meter_serial, body.public_key_der
    )
    return MeterPublic.of(meter)


@router.get(
    "/{charger_id}/meters",
    response_model=list[MeterPublic],
    dependencies=[Read],
    responses={404: {}},
)
async def list_meters(charger_id: str, service: Service):
    """The registered meters of the charger's EVSEs, with their public keys."""
    await _known_charger(service, charger_id)
    return [MeterPublic.of(m) for m in await service.meters(charger_id)]


@router.post(
    "/{charger_id}/remote-start",
    response_model=CommandStatus,
    dependencies=[Operate],
    responses={404: {}, 409: {}, 502: {}, 503: {}},
)
async def remote_start(charger_id: str, body: RemoteStart, remote: Remote):
    """Ask the charger to start a session for a driver's id token on an available EVSE."""
    return CommandStatus(status=await remote.start(charger_id, body.id_token, body.evse_id))


async def _known_charger(service: ChargingService, charger_id: str) -> None:
    if await service.get_charger(charger_id) is None:
        raise NotFound(
            f"charger {charger_id!r} is not registered (register it first)", charger_id=charger_id
        )
