"""API schemas (XPublic for what we return, XCreate for what we accept)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from central_system.domain.model import (
    Charger,
    ChargingSession,
    IdToken,
    IdTokenStatus,
    MeterSample,
    OcppVersion,
    SessionState,
)


class ConnectorPublic(BaseModel):
    evse_id: int
    connector_id: int
    status: str
    raw_status: str
    error_code: str | None
    status_at: datetime | None


class ChargerPublic(BaseModel):
    charger_id: str
    online: bool
    ocpp_version: OcppVersion | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    registered_at: datetime
    last_boot_at: datetime | None
    last_seen_at: datetime | None
    connectors: list[ConnectorPublic]

    @classmethod
    def of(cls, charger: Charger, online: bool) -> ChargerPublic:
        identity = charger.identity
        return cls(
            charger_id=charger.charger_id,
            online=online,
            ocpp_version=charger.ocpp_version,
            vendor=identity.vendor if identity else None,
            model=identity.model if identity else None,
            serial_number=identity.serial_number if identity else None,
            firmware_version=identity.firmware_version if identity else None,
            registered_at=charger.registered_at,
            last_boot_at=charger.last_boot_at,
            last_seen_at=charger.last_seen_at,
            connectors=[ConnectorPublic(**vars(c)) for c in charger.connectors],
        )


class ChargerCreate(BaseModel):
    charger_id: str = Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9._:*+|@-]+$")
    ocpp_version: OcppVersion | None = None


class MeterReadingPublic(BaseModel):
    timestamp: datetime
    measurand: str
    value: float | None
    unit: str
    context: str | None
    phase: str | None
    location: str | None
    signed_data: str | None

    @classmethod
    def of(cls, sample: MeterSample) -> MeterReadingPublic:
        return cls(**vars(sample))


class SessionPublic(BaseModel):
    session_id: int
    charger_id: str
    evse_id: int
    connector_id: int
    transaction_ref: str
    id_token: str | None
    state: SessionState
    authorization: str
    started_at: datetime
    stopped_at: datetime | None
    meter_start_wh: int | None
    meter_stop_wh: int | None
    energy_wh: int | None
    stop_reason: str | None
    offline: bool

    @classmethod
    def of(cls, session: ChargingSession) -> SessionPublic:
        fields = {name: getattr(session, name) for name in cls.model_fields}
        return cls(**fields)


class SessionDetail(SessionPublic):
    readings: list[MeterReadingPublic]

    @classmethod
    def of(cls, session: ChargingSession) -> SessionDetail:
        base = SessionPublic.of(session).model_dump()
        return cls(**base, readings=[MeterReadingPublic.of(r) for r in session.readings])


class IdTokenPublic(BaseModel):
    id_token: str = Field(min_length=1, max_length=36)
    token_type: str = "ISO14443"
    status: IdTokenStatus = IdTokenStatus.ACTIVE
    expires_at: datetime | None = None

    def to_domain(self) -> IdToken:
        return IdToken(self.id_token, self.token_type, self.status, self.expires_at)


class RemoteStart(BaseModel):
    id_token: str = Field(min_length=1, max_length=36)
    evse_id: int = Field(default=1, ge=1)


class CommandStatus(BaseModel):
    status: str = Field(description="the charger's answer, e.g. Accepted or Rejected")
