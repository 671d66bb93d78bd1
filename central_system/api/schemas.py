"""API schemas (XPublic for what we return, XCreate for what we accept)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from central_system.domain.model import (
    Charger,
    ChargingSession,
    IdToken,
    IdTokenStatus,
    MeterRegistration,
    MeterSample,
    OcppVersion,
    SessionState,
    Site,
    Verification,
)
from central_system.domain.tokens import Settlement, TokenTransaction, Wallet
from central_system.payments import EvchQuote
from central_system.pricing import (
    FxConfig,
    Money,
    PricedInterval,
    PriceInterval,
    TariffConfig,
    fraction_text,
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


# The curves of the OCMF signature methods (spec, Table 22; ocmf.signature signs and verifies
# with them): a meter key on any other curve could never verify a record.
OCMF_CURVES: tuple[type[ec.EllipticCurve], ...] = (
    ec.SECP192R1,
    ec.SECP256K1,
    ec.SECP256R1,
    ec.BrainpoolP256R1,
    ec.SECP384R1,
    ec.BrainpoolP384R1,
)
_PEM_HEADER = "-----BEGIN PUBLIC KEY-----"
_PEM_FOOTER = "-----END PUBLIC KEY-----"


def meter_public_key_der(text: str) -> bytes:
    """The DER SubjectPublicKeyInfo of a meter key as printed on the meter (hex, spaces and a
    0x prefix allowed) or as PEM; a ValueError says why it cannot sign OCMF records.

    The DER is kept as given, not re-encoded: the key a meter sends along with its readings is
    compared with the registered one byte for byte."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        if not text.startswith(_PEM_HEADER) or not text.endswith(_PEM_FOOTER):
            raise ValueError(f"a PEM public key is armoured as {_PEM_HEADER} ... {_PEM_FOOTER}")
        body = "".join(text.removeprefix(_PEM_HEADER).removesuffix(_PEM_FOOTER).split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the PEM public key's body is not Base64") from None
    else:
        digits = "".join(text.split()).removeprefix("0x").removeprefix("0X")
        try:
            der = bytes.fromhex(digits)
        except ValueError:
            raise ValueError(
                "the public key is neither hex (the DER SubjectPublicKeyInfo printed on the "
                "meter) nor PEM"
            ) from None
    try:
        key = serialization.load_der_public_key(der)
    except ValueError:
        raise ValueError("the public key is not a DER SubjectPublicKeyInfo") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"the public key is {type(key).__name__}, not an elliptic-curve key")
    if not isinstance(key.curve, OCMF_CURVES):
        names = ", ".join(curve.name for curve in OCMF_CURVES)
        raise ValueError(f"the key's curve {key.curve.name} is not one OCMF signs with ({names})")
    return der


class MeterCreate(BaseModel):
    """The meter of an EVSE as the operator registers it at onboarding. Once validated,
    `public_key` is the DER in upper-case hex, whichever shape was sent."""

    meter_serial: str = Field(min_length=1, max_length=64, description="OCMF MS, as signed")
    public_key: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4096,
            description="the DER SubjectPublicKeyInfo in hex, as printed on the meter, or PEM",
        ),
        AfterValidator(lambda text: meter_public_key_der(text).hex().upper()),
    ]

    @property
    def public_key_der(self) -> bytes:
        return bytes.fromhex(self.public_key)


class MeterPublic(BaseModel):
    charger_id: str
    evse_id: int
    meter_serial: str
    public_key: str = Field(description="the DER SubjectPublicKeyInfo, hex")
    registered_at: datetime

    @classmethod
    def of(cls, meter: MeterRegistration) -> MeterPublic:
        return cls(
            charger_id=meter.charger_id,
            evse_id=meter.evse_id,
            meter_serial=meter.meter_serial,
            public_key=meter.public_key_der.hex().upper(),
            registered_at=meter.registered_at,
        )


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
    departure_at: datetime | None
    energy_target_wh: int | None
    total_cost_minor: int | None = Field(description="the bill in minor units of `currency`")
    currency: str | None
    total_cost: str | None = Field(description="the bill in major units, e.g. '12.35'")
    verification: Verification | None = Field(
        description="whether the meter's signed readings prove the energy; null while active"
    )
    verification_reason: str | None = Field(description="why it is unverified, when it is")
    verified_energy_wh: int | None = Field(description="the energy the signed readings prove")

    @classmethod
    def of(cls, session: ChargingSession) -> SessionPublic:
        fields = {name: getattr(session, name) for name in cls.model_fields if name != "total_cost"}
        total = None
        if session.total_cost_minor is not None:
            total = str(Money(session.total_cost_minor, session.currency).major)
        return cls(**fields, total_cost=total)


class ChargeLinePublic(BaseModel):
    """One line of a bill: the energy delivered in one price interval, at its price."""

    start: datetime
    end: datetime
    price_minor_per_kwh: int
    energy_wh: int
    amount_minor: int

    @classmethod
    def of(cls, line: PricedInterval) -> ChargeLinePublic:
        return cls(**{name: getattr(line, name) for name in cls.model_fields})


class SessionDetail(SessionPublic):
    readings: list[MeterReadingPublic]
    charges: list[ChargeLinePublic]

    @classmethod
    def of(cls, session: ChargingSession, charges: list[PricedInterval]) -> SessionDetail:
        base = SessionPublic.of(session).model_dump()
        return cls(
            **base,
            readings=[MeterReadingPublic.of(r) for r in session.readings],
            charges=[ChargeLinePublic.of(line) for line in charges],
        )


class DriverNeeds(BaseModel):
    """What the driver's app says: when they leave and how much energy they want."""

    departure_at: AwareDatetime
    energy_wh: Annotated[int, Field(ge=0, le=1_000_000)]


class SitePublic(BaseModel):
    site_id: str
    name: str
    grid_limit_w: float
    policy: str
    currency: str | None = Field(description="the tariff's currency; null when unpriced")
    chargers: list[str]

    @classmethod
    def of(cls, site: Site) -> SitePublic:
        return cls(
            site_id=site.site_id,
            name=site.name,
            grid_limit_w=site.grid_limit_w,
            policy=site.policy,
            currency=site.tariff.currency if site.tariff else None,
            chargers=sorted(site.evse_power_w),
        )


class PolicyChange(BaseModel):
    policy: str


class SiteCreate(BaseModel):
    """A site as the operator sets it up: its grid connection, its load-management policy, the
    chargers behind it (what one EVSE of each delivers, W) and its tariff. A site that exists
    is replaced."""

    name: str = Field(min_length=1, max_length=200)
    grid_limit_w: float = Field(gt=0)
    policy: str = "uncontrolled"
    evse_power_w: dict[str, Annotated[float, Field(gt=0)]]
    tariff: TariffConfig | None = None
    fx: FxConfig | None = None

    def to_domain(self, site_id: str) -> Site:
        return Site(
            site_id=site_id,
            name=self.name,
            grid_limit_w=self.grid_limit_w,
            policy=self.policy,
            evse_power_w=dict(self.evse_power_w),
            tariff=self.tariff,
            fx=self.fx,
        )


class PricePublic(BaseModel):
    """A published price interval; the components add up to the price."""

    start: datetime
    end: datetime
    price_minor_per_kwh: int
    currency: str
    components: dict[str, int]

    @classmethod
    def of(cls, interval: PriceInterval) -> PricePublic:
        return cls(**{name: getattr(interval, name) for name in cls.model_fields})


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


class WalletPublic(BaseModel):
    """A wallet as anyone may see it: no key material."""

    owner_ref: str
    pubkey: str
    token_account: str
    kyc_status: str
    custodial: bool
    balance_raw: int | None = Field(description="EVCH in raw units (1 raw = 1 mWh)")
    fee_discount_bps: int = Field(description="what the holder's staking tier takes off prices")

    @classmethod
    def of(cls, wallet: Wallet, balance_raw: int | None, discount_bps: int) -> WalletPublic:
        return cls(
            owner_ref=wallet.owner_ref,
            pubkey=wallet.pubkey,
            token_account=wallet.token_account,
            kyc_status=wallet.kyc_status.value,
            custodial=wallet.custodial,
            balance_raw=balance_raw,
            fee_discount_bps=discount_bps,
        )


class TokenTransactionPublic(BaseModel):
    tx_id: int
    kind: str
    status: str
    session_id: int | None
    amount_raw: int | None
    signature: str | None
    error: str | None
    compute_units: int | None
    detail: dict | None
    created_at: datetime

    @classmethod
    def of(cls, transaction: TokenTransaction) -> TokenTransactionPublic:
        fields = {name: getattr(transaction, name) for name in cls.model_fields}
        return cls(**fields | {"kind": transaction.kind.value, "status": transaction.status.value})


class StakeRequest(BaseModel):
    amount_raw: Annotated[int, Field(gt=0)]
    lock_s: Annotated[int, Field(gt=0)]


class UnstakeRequest(BaseModel):
    nonce: Annotated[int, Field(ge=0)]


class Clawback(BaseModel):
    owner_ref: str
    amount_raw: Annotated[int, Field(gt=0)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]


class RedeemRequest(BaseModel):
    amount_raw: Annotated[int, Field(gt=0)]
    service: Annotated[str, Field(min_length=1, max_length=100)]  # what the EVCH buys


class PayRequest(BaseModel):
    session_id: int


class EvchQuotePublic(BaseModel):
    """A session's bill in EVCH: the driver sends gross, the operator receives net."""

    session_id: int
    bill_minor: int
    currency: str
    evch_value_minor: str = Field(description="one EVCH in minor units of the currency, exact")
    gross_raw: int
    fee_raw: int
    net_raw: int

    @classmethod
    def of(cls, session_id: int, quote: EvchQuote) -> EvchQuotePublic:
        return cls(
            session_id=session_id,
            bill_minor=quote.bill.amount_minor,
            currency=quote.bill.currency,
            evch_value_minor=fraction_text(quote.value_minor_per_evch),
            gross_raw=quote.gross_raw,
            fee_raw=quote.fee_raw,
            net_raw=quote.net_raw,
        )


class SettlementPublic(BaseModel):
    session_id: int
    tx_id: int
    operator_ref: str
    bill_minor: int
    bill_currency: str
    peg_basis: str
    evch_value_minor: str
    gross_raw: int
    fee_raw: int
    net_raw: int
    settled_in: str
    settled_minor: int
    settled_currency: str
    settled_at: datetime

    @classmethod
    def of(cls, settlement: Settlement) -> SettlementPublic:
        fields = {name: getattr(settlement, name) for name in cls.model_fields}
        return cls(**fields | {"evch_value_minor": fraction_text(settlement.evch_value_minor)})
