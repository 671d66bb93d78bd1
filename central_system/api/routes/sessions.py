from __future__ import annotations

from fastapi import APIRouter, Query

from central_system.api.auth import DENIED, Operate, Read
from central_system.api.deps import Remote, Service
from central_system.api.schemas import CommandStatus, DriverNeeds, SessionDetail, SessionPublic
from central_system.domain.model import SessionState
from central_system.errors import Conflict, NotFound

router = APIRouter(prefix="/sessions", tags=["sessions"], responses=DENIED)


@router.get("", response_model=list[SessionPublic], dependencies=[Read])
async def list_sessions(
    service: Service,
    charger_id: str | None = None,
    state: SessionState | None = None,
    limit: int = Query(default=1000, ge=1, le=10000),
    offset: int = Query(default=0, ge=0),
):
    sessions = await service.list_sessions(charger_id, state, limit, offset)
    return [SessionPublic.of(s) for s in sessions]


@router.get("/{session_id}", response_model=SessionDetail, dependencies=[Read])
async def get_session(session_id: int, service: Service):
    session = await service.get_session(session_id)
    if session is None:
        raise NotFound(f"session {session_id} does not exist", session_id=session_id)
    return SessionDetail.of(session, await service.session_charges(session_id))


@router.put(
    "/{session_id}/needs",
    response_model=SessionPublic,
    dependencies=[Operate],
    responses={404: {}, 409: {}},
)
async def put_driver_needs(session_id: int, body: DriverNeeds, service: Service):
    """The driver's departure and energy (from their app); the site re-plans with them."""
    session = await service.get_session(session_id, with_readings=False)
    if session is None:
        raise NotFound(f"session {session_id} does not exist", session_id=session_id)
    if session.state is not SessionState.ACTIVE:
        raise Conflict(f"session {session_id} is {session.state.value}", session_id=session_id)
    updated = await service.set_driver_needs(session_id, body.departure_at, body.energy_wh)
    return SessionPublic.of(updated)


@router.post(
    "/{session_id}/remote-stop",
    response_model=CommandStatus,
    dependencies=[Operate],
    responses={404: {}, 409: {}},
)
async def remote_stop(session_id: int, remote: Remote):
    """Ask the charger to stop an active session."""
    return CommandStatus(status=await remote.stop(session_id))
