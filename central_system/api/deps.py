"""Dependencies of the routes, built in the app factory (never at import time)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from central_system.ocpp.gateway import ChargerGateway
from central_system.sessions.remote import RemoteControl
from central_system.sessions.service import ChargingService


def _service(request: Request) -> ChargingService:
    return request.app.state.service


def _gateway(request: Request) -> ChargerGateway:
    return request.app.state.gateway


def _remote(request: Request) -> RemoteControl:
    return request.app.state.remote


Service = Annotated[ChargingService, Depends(_service)]
Gateway = Annotated[ChargerGateway, Depends(_gateway)]
Remote = Annotated[RemoteControl, Depends(_remote)]
