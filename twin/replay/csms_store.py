"""What the central system stored of a run (the run directory's csms.sqlite), read-only."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from central_system.domain.model import MeterRegistration
from central_system.pricing.money import minor_exponent


@dataclass(frozen=True)
class StoredSession:
    session_id: int
    charger_id: str
    evse_id: int
    transaction_ref: str
    id_token: str | None
    state: str
    meter_start_wh: int | None
    meter_stop_wh: int | None
    verification: str | None
    verification_reason: str | None
    verified_energy_wh: int | None
    total_cost_minor: int | None
    currency: str | None


@dataclass(frozen=True)
class StoredMint:
    """The CSMS's Proof-of-Charge row of a session."""

    status: str  # PENDING, CONFIRMED, BLOCKED, FAILED
    amount_raw: int | None
    error: str | None


@dataclass(frozen=True)
class CsmsRecord:
    sessions: dict[tuple[str, str], StoredSession]  # (charger, transaction ref) -> session
    meters: dict[tuple[str, int], MeterRegistration]
    mints: dict[int, StoredMint]  # session id -> its Proof-of-Charge row
    prices: pd.DataFrame  # site_id, start, price_per_kwh (major units), currency


def read_csms(path: Path) -> CsmsRecord:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return CsmsRecord(
            _sessions(connection), _meters(connection), _mints(connection), _prices(connection)
        )
    finally:
        connection.close()


def _sessions(db: sqlite3.Connection) -> dict[tuple[str, str], StoredSession]:
    rows = db.execute(
        "SELECT session_id, charger_id, evse_id, transaction_ref, id_token, state, "
        "meter_start_wh, meter_stop_wh, verification, verification_reason, "
        "verified_energy_wh, total_cost_minor, currency FROM charging_sessions"
    )
    sessions = (StoredSession(*row) for row in rows)
    return {(s.charger_id, s.transaction_ref): s for s in sessions}


def _meters(db: sqlite3.Connection) -> dict[tuple[str, int], MeterRegistration]:
    rows = db.execute(
        "SELECT charger_id, evse_id, meter_serial, public_key_der, registered_at FROM meter_keys"
    )
    return {
        (charger, evse): MeterRegistration(charger, evse, serial, bytes(key), _utc(at))
        for charger, evse, serial, key, at in rows
    }


def _mints(db: sqlite3.Connection) -> dict[int, StoredMint]:
    rows = db.execute(
        "SELECT session_id, status, amount_raw, error FROM token_transactions "
        "WHERE kind = 'proof_of_charge' AND session_id IS NOT NULL"
    )
    return {session: StoredMint(status, amount, error) for session, status, amount, error in rows}


def _prices(db: sqlite3.Connection) -> pd.DataFrame:
    rows = db.execute(
        "SELECT site_id, start, price_minor_per_kwh, currency FROM site_prices "
        "ORDER BY site_id, start"
    ).fetchall()
    return pd.DataFrame(
        [
            (site, _utc(start), minor / 10 ** minor_exponent(currency), currency)
            for site, start, minor, currency in rows
        ],
        columns=["site_id", "start", "price_per_kwh", "currency"],
    )


def _utc(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
