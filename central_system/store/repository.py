"""Queries and updates, as plain functions of a SQLAlchemy session that return domain snapshots.

They run inside `Database.write` (the group-commit writer) or `Database.read`; keeping every
statement here means the routes and OCPP handlers never touch ORM objects.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from central_system.domain.model import (
    AuthorizationStatus,
    Charger,
    ChargerIdentity,
    ChargingSession,
    Connector,
    ConnectorStatus,
    IdToken,
    IdTokenStatus,
    MeterRegistration,
    MeterSample,
    OcppVersion,
    SessionState,
    Site,
    Verification,
)
from central_system.pricing import FxConfig, Money, PricedInterval, PriceInterval, TariffConfig
from central_system.store.models import (
    ChargerRow,
    ConnectorRow,
    IdTokenRow,
    MeterKeyRow,
    MeterReadingRow,
    SessionChargeRow,
    SessionRow,
    SitePriceRow,
    SiteRow,
)

# -- snapshots -------------------------------------------------------------------------------


def _connector(row: ConnectorRow) -> Connector:
    return Connector(
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        status=ConnectorStatus(row.status),
        raw_status=row.raw_status,
        error_code=row.error_code,
        status_at=row.status_at,
    )


def _charger(row: ChargerRow, connectors: list[ConnectorRow]) -> Charger:
    identity = (
        ChargerIdentity(row.vendor, row.model or "", row.serial_number, row.firmware_version)
        if row.vendor
        else None
    )
    return Charger(
        charger_id=row.charger_id,
        ocpp_version=OcppVersion(row.ocpp_version) if row.ocpp_version else None,
        identity=identity,
        registered_at=row.registered_at,
        last_boot_at=row.last_boot_at,
        last_seen_at=row.last_seen_at,
        connectors=tuple(
            _connector(c) for c in sorted(connectors, key=lambda c: (c.evse_id, c.connector_id))
        ),
    )


def _sample(row: MeterReadingRow) -> MeterSample:
    return MeterSample(
        timestamp=row.timestamp,
        measurand=row.measurand,
        value=row.value,
        unit=row.unit,
        context=row.context,
        phase=row.phase,
        location=row.location,
        signed_data=row.signed_data,
    )


def _session(row: SessionRow, readings: list[MeterReadingRow] | None = None) -> ChargingSession:
    return ChargingSession(
        session_id=row.session_id,
        charger_id=row.charger_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        transaction_ref=row.transaction_ref,
        id_token=row.id_token,
        state=SessionState(row.state),
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        meter_start_wh=row.meter_start_wh,
        meter_stop_wh=row.meter_stop_wh,
        stop_reason=row.stop_reason,
        offline=row.offline,
        authorization=AuthorizationStatus(row.authorization),
        remote_start_id=row.remote_start_id,
        last_seq_no=row.last_seq_no,
        readings=tuple(_sample(r) for r in readings or ()),
        departure_at=row.departure_at,
        energy_target_wh=row.energy_target_wh,
        total_cost_minor=row.total_cost_minor,
        currency=row.currency,
        verification=Verification(row.verification) if row.verification else None,
        verification_reason=row.verification_reason,
        verified_energy_wh=row.verified_energy_wh,
    )


def _site(row: SiteRow) -> Site:
    return Site(
        site_id=row.site_id,
        name=row.name,
        grid_limit_w=row.grid_limit_w,
        policy=row.policy,
        evse_power_w=dict(row.evse_power_w),
        tariff=TariffConfig.model_validate(row.tariff) if row.tariff else None,
        fx=FxConfig.model_validate(row.fx) if row.fx else None,
    )


def _price(row: SitePriceRow) -> PriceInterval:
    return PriceInterval(
        row.start, row.end, row.price_minor_per_kwh, row.currency, dict(row.components)
    )


# -- chargers --------------------------------------------------------------------------------


def charger_exists(db: Session, charger_id: str) -> bool:
    return db.get(ChargerRow, charger_id) is not None


def register_charger(
    db: Session, charger_id: str, at: datetime, ocpp_version: OcppVersion | None = None
) -> Charger:
    row = db.get(ChargerRow, charger_id)
    if row is None:
        row = ChargerRow(charger_id=charger_id, registered_at=at)
        db.add(row)
    if ocpp_version is not None:
        row.ocpp_version = ocpp_version.value
    db.flush()
    return _charger(row, _connector_rows(db, charger_id))


def record_boot(
    db: Session, charger_id: str, version: OcppVersion, identity: ChargerIdentity, at: datetime
) -> None:
    row = _charger_row(db, charger_id)
    row.ocpp_version = version.value
    row.vendor = identity.vendor
    row.model = identity.model
    row.serial_number = identity.serial_number
    row.firmware_version = identity.firmware_version
    row.last_boot_at = at
    row.last_seen_at = at


def touch_charger(db: Session, charger_id: str, at: datetime) -> None:
    _charger_row(db, charger_id).last_seen_at = at


def record_report(db: Session, charger_id: str, values: dict[str, object]) -> None:
    row = _charger_row(db, charger_id)
    row.reported = {**(row.reported or {}), **values}


def record_connector_status(
    db: Session,
    charger_id: str,
    evse_id: int,
    connector_id: int,
    status: ConnectorStatus,
    raw_status: str,
    error_code: str | None,
    at: datetime,
) -> None:
    row = db.get(ConnectorRow, (charger_id, evse_id, connector_id))
    if row is None:
        row = ConnectorRow(charger_id=charger_id, evse_id=evse_id, connector_id=connector_id)
        db.add(row)
    row.status = status.value
    row.raw_status = raw_status
    row.error_code = error_code
    row.status_at = at


def get_charger(db: Session, charger_id: str) -> Charger | None:
    row = db.get(ChargerRow, charger_id)
    return None if row is None else _charger(row, _connector_rows(db, charger_id))


def list_chargers(db: Session) -> list[Charger]:
    rows = db.scalars(select(ChargerRow).order_by(ChargerRow.charger_id)).all()
    connectors: dict[str, list[ConnectorRow]] = {}
    for c in db.scalars(select(ConnectorRow)):
        connectors.setdefault(c.charger_id, []).append(c)
    return [_charger(r, connectors.get(r.charger_id, [])) for r in rows]


def _charger_row(db: Session, charger_id: str) -> ChargerRow:
    row = db.get(ChargerRow, charger_id)
    if row is None:
        raise LookupError(f"charger {charger_id!r} is not registered")
    return row


def _connector_rows(db: Session, charger_id: str) -> list[ConnectorRow]:
    return list(db.scalars(select(ConnectorRow).where(ConnectorRow.charger_id == charger_id)))


# -- id tokens -------------------------------------------------------------------------------


def upsert_id_token(db: Session, token: IdToken) -> IdToken:
    row = db.get(IdTokenRow, token.id_token)
    if row is None:
        row = IdTokenRow(id_token=token.id_token)
        db.add(row)
    row.token_type = token.token_type
    row.status = token.status.value
    row.expires_at = token.expires_at
    return token


def get_id_token(db: Session, id_token: str) -> IdToken | None:
    row = db.get(IdTokenRow, id_token)
    if row is None:
        return None
    return IdToken(row.id_token, row.token_type, IdTokenStatus(row.status), row.expires_at)


def list_id_tokens(db: Session) -> list[IdToken]:
    rows = db.scalars(select(IdTokenRow).order_by(IdTokenRow.id_token))
    return [IdToken(r.id_token, r.token_type, IdTokenStatus(r.status), r.expires_at) for r in rows]


def token_in_active_session(db: Session, id_token: str) -> bool:
    stmt = select(SessionRow.session_id).where(
        SessionRow.id_token == id_token, SessionRow.state == SessionState.ACTIVE.value
    )
    return db.scalar(stmt.limit(1)) is not None


# -- sessions --------------------------------------------------------------------------------


def active_session_on(
    db: Session, charger_id: str, evse_id: int, connector_id: int | None = None
) -> ChargingSession | None:
    stmt = select(SessionRow).where(
        SessionRow.charger_id == charger_id,
        SessionRow.evse_id == evse_id,
        SessionRow.state == SessionState.ACTIVE.value,
    )
    if connector_id is not None:
        stmt = stmt.where(SessionRow.connector_id == connector_id)
    row = db.scalars(stmt.limit(1)).first()
    return None if row is None else _session(row)


def find_session_row(db: Session, charger_id: str, transaction_ref: str) -> SessionRow | None:
    stmt = select(SessionRow).where(
        SessionRow.charger_id == charger_id, SessionRow.transaction_ref == transaction_ref
    )
    return db.scalars(stmt).first()


def find_duplicate_start(
    db: Session, charger_id: str, connector_id: int, id_token: str | None, started_at: datetime
) -> ChargingSession | None:
    """A 1.6 StartTransaction re-sent after a lost answer must map to the same transaction."""
    stmt = select(SessionRow).where(
        SessionRow.charger_id == charger_id,
        SessionRow.connector_id == connector_id,
        SessionRow.id_token == id_token,
        SessionRow.started_at == started_at,
    )
    row = db.scalars(stmt.limit(1)).first()
    return None if row is None else _session(row)


def insert_session(db: Session, session: ChargingSession) -> ChargingSession:
    row = SessionRow(
        charger_id=session.charger_id,
        evse_id=session.evse_id,
        connector_id=session.connector_id,
        transaction_ref=session.transaction_ref or None,
        id_token=session.id_token,
        authorization=session.authorization.value,
        state=session.state.value,
        started_at=session.started_at,
        stopped_at=session.stopped_at,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=session.meter_stop_wh,
        stop_reason=session.stop_reason,
        offline=session.offline,
        remote_start_id=session.remote_start_id,
        last_seq_no=session.last_seq_no,
    )
    db.add(row)
    db.flush()
    if row.transaction_ref is None:  # 1.6: the session id is the transactionId
        row.transaction_ref = str(row.session_id)
    return _session(row)


def update_session(db: Session, row: SessionRow, **changes: object) -> ChargingSession:
    for name, value in changes.items():
        if isinstance(value, SessionState | AuthorizationStatus):
            value = value.value
        setattr(row, name, value)
    db.flush()
    return _session(row)


def add_readings(
    db: Session,
    charger_id: str,
    evse_id: int,
    session_id: int | None,
    samples: list[MeterSample],
) -> None:
    if not samples:
        return
    # A Core bulk insert: readings are the hottest write path and need no ORM identity.
    db.execute(
        insert(MeterReadingRow),
        [
            {
                "session_id": session_id,
                "charger_id": charger_id,
                "evse_id": evse_id,
                "timestamp": s.timestamp,
                "measurand": s.measurand,
                "value": s.value,
                "unit": s.unit,
                "context": s.context,
                "phase": s.phase,
                "location": s.location,
                "signed_data": s.signed_data,
            }
            for s in samples
        ],
    )


def get_session(db: Session, session_id: int, with_readings: bool = True) -> ChargingSession | None:
    row = db.get(SessionRow, session_id)
    if row is None:
        return None
    readings = None
    if with_readings:
        stmt = (
            select(MeterReadingRow)
            .where(MeterReadingRow.session_id == session_id)
            .order_by(MeterReadingRow.timestamp, MeterReadingRow.reading_id)
        )
        readings = list(db.scalars(stmt))
    return _session(row, readings)


def list_sessions(
    db: Session,
    charger_id: str | None = None,
    state: SessionState | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[ChargingSession]:
    stmt = select(SessionRow).order_by(SessionRow.session_id)
    if charger_id is not None:
        stmt = stmt.where(SessionRow.charger_id == charger_id)
    if state is not None:
        stmt = stmt.where(SessionRow.state == state.value)
    return [_session(r) for r in db.scalars(stmt.limit(limit).offset(offset))]


def set_driver_needs(
    db: Session, session_id: int, departure_at: datetime, energy_target_wh: int
) -> ChargingSession | None:
    row = db.get(SessionRow, session_id)
    if row is None:
        return None
    return update_session(db, row, departure_at=departure_at, energy_target_wh=energy_target_wh)


# -- sites, prices and bills -----------------------------------------------------------------


def upsert_site(db: Session, site: Site) -> Site:
    row = db.get(SiteRow, site.site_id) or SiteRow(site_id=site.site_id)
    row.name = site.name
    row.grid_limit_w = site.grid_limit_w
    row.policy = site.policy
    row.evse_power_w = dict(site.evse_power_w)
    row.tariff = site.tariff.model_dump(mode="json") if site.tariff else None
    row.fx = site.fx.model_dump(mode="json") if site.fx else None
    db.add(row)
    db.flush()
    return _site(row)


def set_site_policy(db: Session, site_id: str, policy: str) -> Site | None:
    row = db.get(SiteRow, site_id)
    if row is None:
        return None
    row.policy = policy
    db.flush()
    return _site(row)


def get_site(db: Session, site_id: str) -> Site | None:
    row = db.get(SiteRow, site_id)
    return None if row is None else _site(row)


def list_sites(db: Session) -> list[Site]:
    return [_site(r) for r in db.scalars(select(SiteRow).order_by(SiteRow.site_id))]


def site_of_charger(db: Session, charger_id: str) -> Site | None:
    """The site whose chargers include ``charger_id`` (None when it belongs to none)."""
    return next((site for site in list_sites(db) if charger_id in site.evse_power_w), None)


def publish_prices(
    db: Session, site_id: str, intervals: list[tuple[PriceInterval, float]], at: datetime
) -> list[PriceInterval]:
    """Store (interval, utilisation) pairs not yet published; a published price never changes.

    Returns the intervals as stored: the earlier publication where there was one."""
    stored = []
    for interval, utilisation in intervals:
        row = db.get(SitePriceRow, (site_id, interval.start))
        if row is None:
            row = SitePriceRow(
                site_id=site_id,
                start=interval.start,
                end=interval.end,
                price_minor_per_kwh=interval.price_minor_per_kwh,
                currency=interval.currency,
                components=dict(interval.components),
                utilisation=utilisation,
                published_at=at,
            )
            db.add(row)
        stored.append(_price(row))
    db.flush()
    return stored


def published_prices(
    db: Session, site_id: str, start: datetime, end: datetime
) -> list[PriceInterval]:
    """The published intervals of a site that overlap [start, end), in time order."""
    stmt = (
        select(SitePriceRow)
        .where(SitePriceRow.site_id == site_id)
        .where(SitePriceRow.end > start)
        .where(SitePriceRow.start < end)
        .order_by(SitePriceRow.start)
    )
    return [_price(r) for r in db.scalars(stmt)]


def site_load_w(db: Session, site: Site, start: datetime, end: datetime) -> dict[datetime, float]:
    """The site's measured power (W) when each price interval overlapping [start, end) was
    published, by interval start."""
    stmt = (
        select(SitePriceRow.start, SitePriceRow.utilisation)
        .where(SitePriceRow.site_id == site.site_id)
        .where(SitePriceRow.end > start)
        .where(SitePriceRow.start < end)
    )
    return {start: utilisation * site.grid_limit_w for start, utilisation in db.execute(stmt)}


def record_bill(
    db: Session, session_id: int, lines: list[PricedInterval], total: Money
) -> ChargingSession:
    """Replace the session's bill with ``lines`` and their ``total``."""
    db.execute(delete(SessionChargeRow).where(SessionChargeRow.session_id == session_id))
    db.add_all(
        SessionChargeRow(
            session_id=session_id,
            start=line.start,
            end=line.end,
            price_minor_per_kwh=line.price_minor_per_kwh,
            energy_wh=int(line.energy_wh),
            amount_minor=line.amount_minor,
        )
        for line in lines
    )
    row = db.get(SessionRow, session_id)
    return update_session(db, row, total_cost_minor=total.amount_minor, currency=total.currency)


def session_charges(db: Session, session_id: int) -> list[PricedInterval]:
    row = db.get(SessionRow, session_id)
    stmt = (
        select(SessionChargeRow)
        .where(SessionChargeRow.session_id == session_id)
        .order_by(SessionChargeRow.start)
    )
    return [
        PricedInterval(
            start=r.start,
            end=r.end,
            price_minor_per_kwh=r.price_minor_per_kwh,
            currency=row.currency if row is not None else "",
            energy_wh=r.energy_wh,
            amount_minor=r.amount_minor,
        )
        for r in db.scalars(stmt)
    ]


# -- meters ----------------------------------------------------------------------------------


def _meter(row: MeterKeyRow) -> MeterRegistration:
    return MeterRegistration(
        charger_id=row.charger_id,
        evse_id=row.evse_id,
        meter_serial=row.meter_serial,
        public_key_der=bytes(row.public_key_der),
        registered_at=row.registered_at,
    )


def register_meter(db: Session, meter: MeterRegistration) -> MeterRegistration:
    """Register (or replace, when a meter is exchanged) the meter of an EVSE."""
    row = db.get(MeterKeyRow, (meter.charger_id, meter.evse_id))
    if row is None:
        row = MeterKeyRow(charger_id=meter.charger_id, evse_id=meter.evse_id)
        db.add(row)
    row.meter_serial = meter.meter_serial
    row.public_key_der = meter.public_key_der
    row.registered_at = meter.registered_at
    db.flush()
    return _meter(row)


def get_meter(db: Session, charger_id: str, evse_id: int) -> MeterRegistration | None:
    row = db.get(MeterKeyRow, (charger_id, evse_id))
    return None if row is None else _meter(row)


def list_meters(db: Session, charger_id: str | None = None) -> list[MeterRegistration]:
    stmt = select(MeterKeyRow).order_by(MeterKeyRow.charger_id, MeterKeyRow.evse_id)
    if charger_id is not None:
        stmt = stmt.where(MeterKeyRow.charger_id == charger_id)
    return [_meter(row) for row in db.scalars(stmt)]


def record_verification(
    db: Session,
    session_id: int,
    verification: Verification,
    reason: str | None,
    energy_wh: int | None,
) -> ChargingSession:
    row = db.get(SessionRow, session_id)
    return update_session(
        db,
        row,
        verification=verification.value,
        verification_reason=reason,
        verified_energy_wh=energy_wh,
    )
