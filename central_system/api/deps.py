"""Dependencies of the routes, built in the app factory (never at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import Depends, Request

from central_system.config import Settings
from central_system.domain.model import Site
from central_system.errors import Unavailable
from central_system.ledger import LedgerUnavailable
from central_system.ocpp.gateway import ChargerGateway
from central_system.payments import EvchPayments
from central_system.pricing import PriceInterval
from central_system.sessions.remote import RemoteControl
from central_system.sessions.service import ChargingService
from central_system.store import Database
from central_system.tokens.admin import TokenAdmin
from central_system.tokens.service import TokenService


class SiteManager(Protocol):
    """The sites of the central system (implemented by `central_system.app.CentralSystem`)."""

    settings: Settings
    db: Database  # the API keys are read from it
    tokens: TokenService | None
    payments: EvchPayments | None

    async def add_site(self, site: Site) -> Site: ...
    async def list_sites(self) -> list[Site]: ...
    async def set_site_policy(self, site_id: str, policy: str) -> Site | None: ...
    async def published_prices(
        self, site_id: str, start: datetime, end: datetime
    ) -> list[PriceInterval]: ...


def _service(request: Request) -> ChargingService:
    return request.app.state.service


def _gateway(request: Request) -> ChargerGateway:
    return request.app.state.gateway


def _remote(request: Request) -> RemoteControl:
    return request.app.state.remote


def _sites(request: Request) -> SiteManager:
    return request.app.state.sites


def _tokens(request: Request) -> TokenService:
    tokens = request.app.state.sites.tokens
    if tokens is None:
        raise Unavailable("EVCH is not enabled on this central system")
    return tokens


def _payments(request: Request) -> EvchPayments:
    payments = request.app.state.sites.payments
    if payments is None:
        raise Unavailable("EVCH is not enabled on this central system")
    return payments


async def _token_admin(request: Request) -> AsyncIterator[TokenAdmin]:
    """The admin of the token service, for the length of the request: a ledger that cannot be
    reached meanwhile is 503 (what happened is not known: read the config or fees again)."""
    try:
        yield TokenAdmin(_tokens(request))
    except LedgerUnavailable as error:
        raise Unavailable("the ledger cannot be reached; try again later") from error


Service = Annotated[ChargingService, Depends(_service)]
Gateway = Annotated[ChargerGateway, Depends(_gateway)]
Remote = Annotated[RemoteControl, Depends(_remote)]
Sites = Annotated[SiteManager, Depends(_sites)]
Tokens = Annotated[TokenService, Depends(_tokens)]
TokenAdminDep = Annotated[TokenAdmin, Depends(_token_admin)]
Payments = Annotated[EvchPayments, Depends(_payments)]
