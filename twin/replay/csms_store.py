"""What the central system stored of a run (the run directory's csms.sqlite), read-only and
through the CSMS's own repository, so the replay reads the rows exactly as the CSMS does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from central_system.domain.model import ChargingSession, MeterRegistration
from central_system.domain.tokens import Settlement, TokenTransaction, TokenTxKind
from central_system.pricing.money import minor_exponent
from central_system.store import repository as repo
from central_system.store import tokens as token_repo

_ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class CsmsRecord:
    chargers: tuple[str, ...]  # every charge point registered
    sessions: dict[tuple[str, str], ChargingSession]  # (charger, transaction ref) -> session
    meters: dict[tuple[str, int], MeterRegistration]
    mints: dict[int, TokenTransaction]  # session id -> its Proof-of-Charge row
    token_transactions: tuple[TokenTransaction, ...]  # every token row, in the order made
    settlements: tuple[Settlement, ...]  # sessions paid in EVCH and the operator's settlement
    prices: pd.DataFrame  # site_id, start, price_per_kwh (major units), currency


def read_csms(path: Path) -> CsmsRecord:
    # A finished run's database has no write-ahead log left: read it as immutable, so that
    # reading it writes no -shm file into the run directory it audits.
    wal = path.with_name(path.name + "-wal")
    immutable = "&immutable=1" if not wal.exists() or wal.stat().st_size == 0 else ""
    engine = create_engine(f"sqlite:///file:{path}?mode=ro{immutable}&uri=true")
    try:
        with Session(engine) as db:
            sessions = repo.list_sessions(db, limit=2**62)
            token_transactions = tuple(token_repo.list_transactions(db))
            return CsmsRecord(
                chargers=tuple(c.charger_id for c in repo.list_chargers(db)),
                sessions={(s.charger_id, s.transaction_ref): s for s in sessions},
                meters={(m.charger_id, m.evse_id): m for m in repo.list_meters(db)},
                mints={
                    row.session_id: row
                    for row in token_transactions
                    if row.kind is TokenTxKind.PROOF_OF_CHARGE and row.session_id is not None
                },
                token_transactions=token_transactions,
                settlements=tuple(token_repo.list_settlements(db)),
                prices=_prices(db),
            )
    finally:
        engine.dispose()


def _prices(db: Session) -> pd.DataFrame:
    rows = [
        (site.site_id, price.start, price.price_minor_per_kwh, price.currency)
        for site in repo.list_sites(db)
        for price in repo.published_prices(db, site.site_id, *_ALL_TIME)
    ]
    return pd.DataFrame(
        [
            (site, start, minor / 10 ** minor_exponent(currency), currency)
            for site, start, minor, currency in rows
        ],
        columns=["site_id", "start", "price_per_kwh", "currency"],
    )
