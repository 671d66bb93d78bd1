"""ORM tables. They stay inside the storage package; the rest of the system sees snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ChargerRow(Base):
    __tablename__ = "chargers"

    charger_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ocpp_version: Mapped[str | None] = mapped_column(String(8))
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(64))
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_boot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Configuration reports (NotifyReport) and the like, kept as the charger sent them.
    reported: Mapped[dict | None] = mapped_column(JSON)


class ChargerCredentialRow(Base):
    """A charger's Basic Auth password (security profiles 1 and 2), as a salted scrypt hash."""

    __tablename__ = "charger_credentials"

    charger_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charger_id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    password_set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConnectorRow(Base):
    __tablename__ = "connectors"

    charger_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charger_id", ondelete="CASCADE"), primary_key=True
    )
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    raw_status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdTokenRow(Base):
    __tablename__ = "id_tokens"

    id_token: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SessionRow(Base):
    __tablename__ = "charging_sessions"
    __table_args__ = (
        UniqueConstraint("charger_id", "transaction_ref", name="uq_session_transaction"),
        Index("ix_session_state", "state"),
    )

    session_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    charger_id: Mapped[str] = mapped_column(ForeignKey("chargers.charger_id"), index=True)
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    transaction_ref: Mapped[str | None] = mapped_column(String(64))
    id_token: Mapped[str | None] = mapped_column(String(64))
    authorization: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_start_id: Mapped[int | None] = mapped_column(Integer)
    last_seq_no: Mapped[int | None] = mapped_column(Integer)
    departure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    energy_target_wh: Mapped[int | None] = mapped_column(BigInteger)
    total_cost_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    verification: Mapped[str | None] = mapped_column(String(16))
    verification_reason: Mapped[str | None] = mapped_column(Text)
    verified_energy_wh: Mapped[int | None] = mapped_column(BigInteger)


class MeterKeyRow(Base):
    """The public key of each EVSE's meter, registered at onboarding."""

    __tablename__ = "meter_keys"

    charger_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_serial: Mapped[str] = mapped_column(String(64))
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MeterReadingRow(Base):
    __tablename__ = "meter_readings"

    reading_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("charging_sessions.session_id", ondelete="CASCADE"), index=True
    )
    charger_id: Mapped[str] = mapped_column(String(64), index=True)
    evse_id: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    measurand: Mapped[str] = mapped_column(String(48))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    context: Mapped[str | None] = mapped_column(String(32))
    phase: Mapped[str | None] = mapped_column(String(8))
    location: Mapped[str | None] = mapped_column(String(16))
    signed_data: Mapped[str | None] = mapped_column(Text)


class SiteRow(Base):
    __tablename__ = "sites"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    grid_limit_w: Mapped[float] = mapped_column(Float)
    policy: Mapped[str] = mapped_column(String(32))
    evse_power_w: Mapped[dict] = mapped_column(JSON)  # charger id -> W per EVSE
    tariff: Mapped[dict | None] = mapped_column(JSON)  # TariffConfig, as JSON
    fx: Mapped[dict | None] = mapped_column(JSON)  # FxConfig, as JSON


class SitePriceRow(Base):
    """A published price interval: what energy costs at the site over [start, end)."""

    __tablename__ = "site_prices"

    site_id: Mapped[str] = mapped_column(
        ForeignKey("sites.site_id", ondelete="CASCADE"), primary_key=True
    )
    start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    price_minor_per_kwh: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    components: Mapped[dict] = mapped_column(JSON)
    utilisation: Mapped[float] = mapped_column(Float)  # site power / grid limit when published
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SessionChargeRow(Base):
    """One line of a session's bill: the energy of one price interval at its price."""

    __tablename__ = "session_charges"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("charging_sessions.session_id", ondelete="CASCADE"), primary_key=True
    )
    start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    price_minor_per_kwh: Mapped[int] = mapped_column(BigInteger)
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class WalletRow(Base):
    """A holder's EVCH wallet: custodial (the secret key is kept here, encrypted at rest in a
    real deployment: never logged, never returned) or external (a public key only)."""

    __tablename__ = "wallets"

    owner_ref: Mapped[str] = mapped_column(String(64), primary_key=True)  # id token or operator
    pubkey: Mapped[str] = mapped_column(String(44), unique=True)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_account: Mapped[str] = mapped_column(String(44))
    kyc_status: Mapped[str] = mapped_column(String(16))  # pending, approved, refused, revoked
    kyc_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TokenTransactionRow(Base):
    """One token operation of the central system: its outbox row while pending, then its
    on-chain signature and result. A session has at most one Proof-of-Charge row."""

    __tablename__ = "token_transactions"
    __table_args__ = (
        UniqueConstraint("kind", "session_id", name="uq_token_transaction_session"),
        Index("ix_token_transaction_status", "status"),
    )

    tx_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("charging_sessions.session_id", ondelete="SET NULL")
    )
    owner_ref: Mapped[str | None] = mapped_column(String(64))
    amount_raw: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # pending, confirmed, blocked, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    signature: Mapped[str | None] = mapped_column(String(96))
    error: Mapped[str | None] = mapped_column(Text)
    compute_units: Mapped[int | None] = mapped_column(Integer)
    slot: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OperatorSettlementRow(Base):
    """A session paid in EVCH: what the driver sent, the fee withheld, what the operator
    received, and what the operator is paid for it (fiat or a stablecoin) at the peg."""

    __tablename__ = "operator_settlements"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("charging_sessions.session_id", ondelete="CASCADE"), primary_key=True
    )
    tx_id: Mapped[int] = mapped_column(ForeignKey("token_transactions.tx_id"), unique=True)
    operator_ref: Mapped[str] = mapped_column(String(64))
    bill_minor: Mapped[int] = mapped_column(BigInteger)
    bill_currency: Mapped[str] = mapped_column(String(3))
    peg_basis: Mapped[str] = mapped_column(String(8))  # kwh, usd
    evch_value_minor: Mapped[str] = mapped_column(String(64))  # one EVCH, exact: "num/den"
    gross_raw: Mapped[int] = mapped_column(BigInteger)
    fee_raw: Mapped[int] = mapped_column(BigInteger)
    net_raw: Mapped[int] = mapped_column(BigInteger)
    settled_in: Mapped[str] = mapped_column(String(8))  # fiat, usdc
    settled_minor: Mapped[int] = mapped_column(BigInteger)
    settled_currency: Mapped[str] = mapped_column(String(3))
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    """A REST API key: its SHA-256 only (the key is shown once, when made), and its role."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
