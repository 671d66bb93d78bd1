"""The FastAPI application factory. Who may call which route: api/auth.py."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from central_system.api.deps import SiteManager
from central_system.api.routes import chargers, id_tokens, sessions
from central_system.api.routes import sites as site_routes
from central_system.api.routes import token_admin as token_admin_routes
from central_system.api.routes import tokens as token_routes
from central_system.errors import (
    CentralSystemError,
    ChargerOffline,
    CommandFailed,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from central_system.ocpp.gateway import ChargerGateway
from central_system.sessions.remote import RemoteControl
from central_system.sessions.service import ChargingService

API_PREFIX = "/api/v1"
HTTP_STATUS = {
    Unauthenticated: 401,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    ChargerOffline: 503,
    Unavailable: 503,
    CommandFailed: 502,
}


def http_status(error: CentralSystemError) -> int:
    """The status of the error's nearest class that has one (PaymentRefused is a Conflict)."""
    return next((HTTP_STATUS[c] for c in type(error).__mro__ if c in HTTP_STATUS), 400)


def create_app(service: ChargingService, gateway: ChargerGateway, sites: SiteManager) -> FastAPI:
    app = FastAPI(
        title="EVCH central system",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.service = service
    app.state.gateway = gateway
    app.state.remote = RemoteControl(service, gateway)
    app.state.sites = sites

    @app.exception_handler(CentralSystemError)
    async def domain_error(_request: Request, error: CentralSystemError) -> JSONResponse:
        status = http_status(error)
        return JSONResponse(
            status_code=status,
            content={"error": error.code, "message": error.message, "details": error.details},
            headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
        )

    @app.get(f"{API_PREFIX}/health", tags=["health"])  # open, for load balancers
    async def health() -> dict:
        return {"status": "ok", "chargers_online": len(gateway.online())}

    for router in (
        chargers.router,
        sessions.router,
        id_tokens.router,
        site_routes.router,
        token_routes.router,
        token_admin_routes.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    return app
