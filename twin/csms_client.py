"""An external central system as a HIL run sees it: its REST API, and nothing else.

A HIL rig's CSMS runs elsewhere (`evch serve`, or a staging deployment): the twin registers its
chargers, meters, drivers and sites through `/api/v1`, commands the real chargers (remote
start and stop) and reads sessions and their meter values back. Every call carries the
operator's bearer token. Failures raise `CsmsApiError` with the API's own message.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from central_system.domain.model import (
    AuthorizationStatus,
    ChargingSession,
    MeterSample,
    SessionState,
    Verification,
)

TIMEOUT_S = 30.0
PAGE = 10_000  # the API's largest page of sessions


class CsmsApiError(RuntimeError):
    """The CSMS refused a call or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CsmsApi:
    def __init__(self, api_url: str, token: str | None = None, concurrency: int = 16) -> None:
        self.api_url = api_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.api_url,
            headers=headers,
            timeout=TIMEOUT_S,
            limits=httpx.Limits(max_connections=concurrency),
        )
        self._slots = asyncio.Semaphore(concurrency)

    async def close(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        async with self._slots:
            try:
                response = await self._http.request(method, path, json=body, params=query)
            except httpx.HTTPError as error:
                reason = str(error) or type(error).__name__
                raise CsmsApiError(f"{method} {self.api_url}{path}: {reason}") from None
        if response.is_success:
            return response.json() if response.content else None
        try:
            said = response.json().get("message") or response.text
        except (ValueError, AttributeError):
            said = response.text
        raise CsmsApiError(
            f"{method} {self.api_url}{path}: {response.status_code} {said}", response.status_code
        )

    # -- onboarding --------------------------------------------------------------------------
    async def health(self) -> dict:
        return await self.call("GET", "/health")

    async def register_charger(self, charger_id: str, ocpp_version: str | None) -> None:
        await self.call(
            "POST", "/chargers", {"charger_id": charger_id, "ocpp_version": ocpp_version}
        )

    async def register_meter(
        self, charger_id: str, evse_id: int, serial: str, public_key_der: bytes
    ) -> None:
        body = {"meter_serial": serial, "public_key": public_key_der.hex().upper()}
        await self.call("PUT", f"/chargers/{charger_id}/meters/{evse_id}", body)

    async def upsert_id_token(self, id_token: str) -> None:
        body = {"id_token": id_token, "token_type": "ISO14443", "status": "Active"}
        await self.call("PUT", f"/id-tokens/{id_token}", body)

    async def put_site(self, site_id: str, body: dict) -> None:
        await self.call("PUT", f"/sites/{site_id}", body)

    async def charger_online(self, charger_id: str) -> bool:
        return bool((await self.call("GET", f"/chargers/{charger_id}"))["online"])

    # -- commands ----------------------------------------------------------------------------
    async def remote_start(self, charger_id: str, id_token: str, evse_id: int) -> str:
        body = {"id_token": id_token, "evse_id": evse_id}
        return (await self.call("POST", f"/chargers/{charger_id}/remote-start", body))["status"]

    async def remote_stop(self, session_id: int) -> str:
        return (await self.call("POST", f"/sessions/{session_id}/remote-stop"))["status"]

    async def set_driver_needs(self, session_id: int, departure: datetime, wh: int) -> None:
        body = {"departure_at": departure.isoformat(), "energy_wh": wh}
        await self.call("PUT", f"/sessions/{session_id}/needs", body)

    # -- sessions ----------------------------------------------------------------------------
    async def sessions(
        self, charger_id: str | None = None, state: SessionState | None = None
    ) -> list[ChargingSession]:
        found: list[ChargingSession] = []
        while True:
            page = await self.call(
                "GET",
                "/sessions",
                charger_id=charger_id,
                state=state.value if state else None,
                limit=PAGE,
                offset=len(found),
            )
            found += [session_of(item) for item in page]
            if len(page) < PAGE:
                return found

    async def session(self, session_id: int) -> ChargingSession:
        return session_of(await self.call("GET", f"/sessions/{session_id}"))

    async def find_session(
        self, charger_id: str, transaction_ref: str, state: SessionState | None = None
    ) -> ChargingSession | None:
        for session in await self.sessions(charger_id, state):
            if session.transaction_ref == transaction_ref:
                return session
        return None


def session_of(item: dict) -> ChargingSession:
    """A session as the API shows it (SessionPublic or SessionDetail), as the domain's value."""

    def moment(key: str) -> datetime | None:
        return datetime.fromisoformat(item[key]) if item.get(key) else None

    readings = tuple(
        MeterSample(
            timestamp=datetime.fromisoformat(r["timestamp"]),
            measurand=r["measurand"],
            value=r["value"],
            unit=r["unit"],
            context=r.get("context"),
            phase=r.get("phase"),
            location=r.get("location"),
            signed_data=r.get("signed_data"),
        )
        for r in item.get("readings", ())
        if r.get("value") is not None
    )
    return ChargingSession(
        session_id=item["session_id"],
        charger_id=item["charger_id"],
        evse_id=item["evse_id"],
        connector_id=item["connector_id"],
        transaction_ref=item["transaction_ref"],
        id_token=item.get("id_token"),
        state=SessionState(item["state"]),
        started_at=datetime.fromisoformat(item["started_at"]),
        stopped_at=moment("stopped_at"),
        meter_start_wh=item.get("meter_start_wh"),
        meter_stop_wh=item.get("meter_stop_wh"),
        stop_reason=item.get("stop_reason"),
        offline=bool(item.get("offline")),
        authorization=AuthorizationStatus(item.get("authorization", "Accepted")),
        readings=readings,
        departure_at=moment("departure_at"),
        energy_target_wh=item.get("energy_target_wh"),
        total_cost_minor=item.get("total_cost_minor"),
        currency=item.get("currency"),
        verification=Verification(item["verification"]) if item.get("verification") else None,
        verification_reason=item.get("verification_reason"),
        verified_energy_wh=item.get("verified_energy_wh"),
    )
