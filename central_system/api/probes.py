"""What a load balancer, an orchestrator and Prometheus call, beside the REST API (no key):

- ``GET /health``: liveness; 200 while the process serves requests at all;
- ``GET /ready``: readiness; 200 when the database answers and its writer runs, the OCPP
  endpoint accepts connections and (with the token service) the ledger answers; else 503, and
  the body says which check failed;
- ``GET /metrics``: the Prometheus metrics (central_system/observability/metrics.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from central_system.store import stats

if TYPE_CHECKING:
    from central_system.app import CentralSystem

CHECK_TIMEOUT_S = 2.0


def probes_router(central: CentralSystem) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health() -> dict:
        return {"status": "ok", "chargers_online": len(central.gateway.online())}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        checks = {
            "database": await _check(_database(central)),
            "ocpp": {"ok": central.ocpp.listening},
        }
        if central.tokens is not None:
            ledger, payer = central.tokens.ledger, central.tokens.fee_payer.pubkey()
            checks["ledger"] = await _check(ledger.lamports(payer)) | {"name": ledger.name}
        ready = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ready else "not_ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        await central.metrics.refresh()
        return Response(central.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _database(central: CentralSystem) -> None:
    if not central.db.writing:
        raise RuntimeError("the database writer is not running")
    await central.db.read(stats.ping)


async def _check(probe: Awaitable[object]) -> dict[str, object]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await probe
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S:g} s"}
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"ok": True}
