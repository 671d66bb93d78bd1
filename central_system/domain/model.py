"""Domain values shared by both OCPP versions.

Frozen dataclasses: they cross package boundaries as snapshots, never as live ORM objects.
Protocol differences (1.6 connector ids vs 2.0.1 EVSE + connector, integer vs string
transaction ids) are resolved in the OCPP layer before values reach this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from central_system.pricing.config import FxConfig, TariffConfig


class OcppVersion(StrEnum):
    V16 = "1.6"
    V201 = "2.0.1"

    @property
    def subprotocol(self) -> str:
        return f"ocpp{self.value}"

    @classmethod
    def from_subprotocol(cls, subprotocol: str) -> OcppVersion:
        return cls(subprotocol.removeprefix("ocpp"))


class ConnectorStatus(StrEnum):
    """The common ground of 1.6 ChargePointStatus and 2.0.1 ConnectorStatusEnumType."""

    AVAILABLE = "Available"
    OCCUPIED = "Occupied"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class AuthorizationStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class IdTokenStatus(StrEnum):
    """What the operator set for a driver's token (Invalid is what unknown tokens get)."""

    ACTIVE = "Active"
    BLOCKED = "Blocked"


class SessionState(StrEnum):
    ACTIVE = "Active"
    COMPLETED = "Completed"
    # The charger started it but the central system refused the driver or the connector.
    REJECTED = "Rejected"


class Measurand(StrEnum):
    ENERGY_IMPORT_REGISTER = "Energy.Active.Import.Register"
    POWER_IMPORT = "Power.Active.Import"
    CURRENT_IMPORT = "Current.Import"
    VOLTAGE = "Voltage"
    SOC = "SoC"


@dataclass(frozen=True)
class ChargerIdentity:
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None


@dataclass(frozen=True)
class Connector:
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    # As the charger said it (1.6 has Preparing, Charging, SuspendedEV, ... for Occupied).
    raw_status: str
    error_code: str | None
    status_at: datetime | None


@dataclass(frozen=True)
class Charger:
    charger_id: str
    ocpp_version: OcppVersion | None
    identity: ChargerIdentity | None
    registered_at: datetime
    last_boot_at: datetime | None
    last_seen_at: datetime | None
    connectors: tuple[Connector, ...] = ()

    def connector(self, evse_id: int, connector_id: int = 1) -> Connector | None:
        return next(
            (c for c in self.connectors if (c.evse_id, c.connector_id) == (evse_id, connector_id)),
            None,
        )


@dataclass(frozen=True)
class IdToken:
    id_token: str
    token_type: str
    status: IdTokenStatus
    expires_at: datetime | None = None


@dataclass(frozen=True)
class MeterSample:
    """One sampled value as a charger reported it, normalised to SI-ish units (Wh, W, A, V, %)."""

    timestamp: datetime
    measurand: str
    # None when only signed data was sent (its value is inside the signed payload).
    value: float | None
    unit: str
    context: str | None = None
    phase: str | None = None
    location: str | None = None
    # Signed meter data (e.g. an OCMF string) exactly as received.
    signed_data: str | None = None


class Verification(StrEnum):
    """Whether a session's energy is proven by its meter's signed readings (OCMF)."""

    VERIFIED = "verified"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class MeterRegistration:
    """An EVSE's meter as the operator registered it at onboarding: its serial and the public
    key printed on it. Signed readings are verified against this, never against a key the
    charger sends."""

    charger_id: str
    evse_id: int
    meter_serial: str
    public_key_der: bytes
    registered_at: datetime


@dataclass(frozen=True)
class ChargingSession:
    session_id: int
    charger_id: str
    evse_id: int
    connector_id: int
    # 1.6: the integer transactionId the CSMS assigned, as text; 2.0.1: the charger's own id.
    transaction_ref: str
    id_token: str | None
    state: SessionState
    started_at: datetime
    stopped_at: datetime | None = None
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    stop_reason: str | None = None
    # True when the charger started the transaction while it had no connection to us.
    offline: bool = False
    authorization: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    remote_start_id: int | None = None
    last_seq_no: int | None = None
    readings: tuple[MeterSample, ...] = field(default=())
    # What the driver said in the app: when they leave and how much energy they want.
    departure_at: datetime | None = None
    energy_target_wh: int | None = None
    # The bill, once the session is stopped and priced (sites with a tariff only).
    total_cost_minor: int | None = None
    currency: str | None = None
    # Set when the session stops: only verified energy is minted.
    verification: Verification | None = None
    verification_reason: str | None = None
    verified_energy_wh: int | None = None

    @property
    def energy_wh(self) -> int | None:
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


@dataclass(frozen=True)
class Site:
    """Chargers behind one grid connection: the limit they share and what their energy costs."""

    site_id: str
    name: str
    grid_limit_w: float
    policy: str  # the load-management policy (central_system.smart_charging.policies)
    evse_power_w: Mapping[str, float]  # charger id -> what one of its EVSEs can deliver (W)
    tariff: TariffConfig | None = None  # None: energy here is not priced
    fx: FxConfig | None = None  # rates the tariff needs (e.g. a wholesale price in EUR)


UNIT_SCALE = {"kWh": ("Wh", 1000.0), "kW": ("W", 1000.0), "kvarh": ("varh", 1000.0)}


def normalise_unit(value: float, unit: str) -> tuple[float, str]:
    """Scale kilo-units to their base unit so that energy is always stored in Wh."""
    base, factor = UNIT_SCALE.get(unit, (unit, 1.0))
    return value * factor, base


def energy_register_wh(
    samples: tuple[MeterSample, ...] | list[MeterSample], *, first: bool = False
) -> int | None:
    """The last (or first) energy register reading (Wh) among samples, None when there is none."""
    energy = [
        s
        for s in samples
        if s.measurand == Measurand.ENERGY_IMPORT_REGISTER
        and s.phase is None
        and s.value is not None
    ]
    if not energy:
        return None
    pick = min if first else max
    return round(pick(energy, key=lambda s: s.timestamp).value)


def latest_power(
    samples: Sequence[MeterSample], *, context: str | None = None
) -> MeterSample | None:
    """The latest total Power.Active.Import sample (of ``context`` only, when given)."""
    power = [
        s
        for s in samples
        if s.measurand == Measurand.POWER_IMPORT
        and s.phase is None
        and s.value is not None
        and (context is None or s.context == context)
    ]
    return max(power, key=lambda s: s.timestamp) if power else None
