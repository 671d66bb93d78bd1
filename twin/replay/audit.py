"""What a replay found: every session rebuilt from the recorded frames, checked against what the
central system stored and what the ledger recorded. The report (twin/report/) reads only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from central_system.domain.model import Verification


@dataclass(frozen=True)
class SessionAudit:
    """One transaction as the frames tell it, with what the CSMS and the ledger say of it."""

    charger_id: str
    transaction_ref: str  # 1.6: the CSMS's transactionId; 2.0.1: the charger's transactionId
    protocol: str  # "1.6" | "2.0.1"
    session_id: int | None  # the CSMS's session id; None when the CSMS has no such session
    id_token: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    energy_wh: int | None  # meter stop - meter start, as the OCPP fields said
    verified_energy_wh: int | None  # end - begin of the signed readings, when they verify
    verification: Verification
    reason: str | None  # why unverified, in words a regulator reads
    signature: str | None  # the signed end reading's signature (hex)
    meter_serial: str | None
    cost_minor: int | None  # what the CSMS told the driver the session cost (frames)
    currency: str | None
    expected_mint_raw: int  # what the ledger should have minted (0 unless verified)
    minted_raw: int | None  # what the ledger did mint (None: no Proof-of-Charge recorded)
    differences: tuple[str, ...] = ()  # where frames, CSMS and ledger disagree
    # Why nothing is minted yet for verified energy, e.g. the driver's KYC is pending.
    mint_note: str | None = None


@dataclass(frozen=True)
class LimitCheck:
    """A site's grid limit against its measured power, per recorded interval."""

    site_id: str
    grid_limit_kw: float
    peak_kw: float
    intervals: int
    intervals_over: int  # intervals whose peak exceeded the limit

    @property
    def compliant(self) -> bool:
        return self.intervals_over == 0


@dataclass(frozen=True)
class Audit:
    run_dir: Path
    scenario: str
    frames: int
    sessions: tuple[SessionAudit, ...]
    limits: tuple[LimitCheck, ...]
    # Differences that belong to no one session (e.g. a ledger mint no session explains).
    run_differences: tuple[str, ...] = ()
    # site_power.parquet as recorded: site_id, interval_start, interval_end, energy_wh,
    # mean_power_kw, peak_power_kw, grid_limit_kw
    site_power: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Published prices: site_id, start (UTC), price_per_kwh (major units), currency
    prices: pd.DataFrame = field(default_factory=pd.DataFrame)
    # EVCH supply after each ledger transaction that changed it: t (UTC), supply_evch
    supply: pd.DataFrame = field(default_factory=pd.DataFrame)
    # HIL: real chargers of the run (the manifest's hardware). Their frames went to the CSMS,
    # not through the twin, so their sessions are not among those rebuilt here; their measured
    # power is in the site power.
    real_chargers: tuple[str, ...] = ()

    @property
    def differences(self) -> tuple[str, ...]:
        per_session = tuple(d for s in self.sessions for d in s.differences)
        return per_session + self.run_differences

    @property
    def reconciled(self) -> bool:
        return not self.differences

    @property
    def exceptions(self) -> tuple[SessionAudit, ...]:
        """Sessions whose energy could not be verified (nothing may be minted for them)."""
        return tuple(s for s in self.sessions if s.verification is Verification.UNVERIFIED)

    @property
    def verified_share(self) -> float:
        return 1.0 - len(self.exceptions) / len(self.sessions) if self.sessions else 1.0
