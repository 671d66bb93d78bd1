from __future__ import annotations

from fastapi import APIRouter

from central_system.api.auth import DENIED, Operate
from central_system.api.deps import Service
from central_system.api.schemas import IdTokenPublic

# The drivers' id tokens start charges: the operator's (and admin's) only.
router = APIRouter(prefix="/id-tokens", tags=["drivers"], dependencies=[Operate], responses=DENIED)


@router.get("", response_model=list[IdTokenPublic])
async def list_id_tokens(service: Service):
    return [IdTokenPublic(**vars(t)) for t in await service.list_id_tokens()]


@router.put("/{id_token}", response_model=IdTokenPublic)
async def put_id_token(id_token: str, body: IdTokenPublic, service: Service):
    """Create or update a driver's id token (status Active or Blocked)."""
    token = await service.upsert_id_token(
        body.model_copy(update={"id_token": id_token}).to_domain()
    )
    return IdTokenPublic(**vars(token))
