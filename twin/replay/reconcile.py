"""Replay: every transaction rebuilt from the recorded frames, its signed energy verified by the
central system's own rules, its price and its expected mint, each reconciled with what the CSMS
stored and what the ledger recorded. Differences are listed, never corrected."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pandas as pd

from central_system.domain.model import ChargingSession, MeterRegistration, Verification
from central_system.domain.tokens import TokenTransaction, TokenTxStatus
from central_system.metering.verification import verify_energy
from central_system.pricing.money import minor_exponent
from ocmf import OcmfError, parse_record, unwrap_signed
from programs import proof_of_charge as poc
from programs.spl.evch_mint import EVCH_DECIMALS
from twin.replay.audit import Audit, LimitCheck, SessionAudit
from twin.replay.csms_store import CsmsRecord, read_csms
from twin.replay.frames import FrameTransaction, read_frames
from twin.replay.ledger_log import LedgerLog, RecordedCharge, read_ledger
from twin.replay.live_ledger import check_live

# Proof-of-Charge rows that wait for something outside the ledger (KYC, a paused program).
_WAITING = {TokenTxStatus.PENDING, TokenTxStatus.BLOCKED}


class RunDirError(Exception):
    """The directory is not a run directory (or lacks what a replay needs)."""


def replay(run_dir: Path, *, ledger_url: str | None = None) -> Audit:
    """Audit the run; with `ledger_url`, against that live ledger's session accounts too."""
    frames_path = run_dir / "ocpp_frames.jsonl"
    if not frames_path.is_file():
        raise RunDirError(f"{run_dir} has no ocpp_frames.jsonl: not a run directory")
    manifest = read_manifest(run_dir)
    log = read_frames(frames_path)
    csms = read_csms(run_dir / "csms.sqlite") if (run_dir / "csms.sqlite").is_file() else None
    ledger = run_ledger(run_dir, manifest)
    sessions = [
        _audit(tx, csms, ledger)
        for tx in log.transactions
        if tx.stopped_at is not None and tx.transaction_ref is not None
    ]
    site_power = _table(run_dir / "site_power.parquet")
    audit = Audit(
        run_dir=run_dir,
        scenario=manifest.get("scenario", run_dir.name),
        frames=log.frames,
        sessions=tuple(sessions),
        limits=_limits(site_power),
        run_differences=tuple(_unexplained(log.transactions, csms, ledger)),
        site_power=site_power,
        prices=csms.prices if csms is not None else pd.DataFrame(),
        supply=pd.DataFrame(
            [(at, raw / 10**EVCH_DECIMALS) for at, raw in (ledger.supply if ledger else [])],
            columns=["t", "supply_evch"],
        ),
        real_chargers=tuple(real["charger_id"] for real in manifest.get("hardware") or ()),
    )
    if ledger_url is None:
        return audit
    addresses = manifest.get("ledger")
    if not addresses:
        raise RunDirError(f"{run_dir} ran without tokens: there is no ledger to check")
    return asyncio.run(check_live(audit, ledger_url, addresses["proof_of_charge_program"]))


def _audit(tx: FrameTransaction, csms: CsmsRecord | None, ledger: LedgerLog | None) -> SessionAudit:
    differences: list[str] = []
    name = f"{tx.charger_id} transaction {tx.transaction_ref}"
    stored = csms.sessions.get((tx.charger_id, tx.transaction_ref)) if csms else None
    if csms is not None and stored is None:
        differences.append(f"{name}: the CSMS has no such session")
    meter = _meter(tx, csms)
    verdict = verify_energy(
        begin=tx.signed_begin,
        end=tx.signed_end,
        meter=meter,
        charger_id=tx.charger_id,
        evse_id=tx.evse_id or 0,
        id_token=tx.id_token,
        meter_start_wh=tx.meter_start_wh,
        meter_stop_wh=tx.meter_stop_wh,
    )
    if stored is not None:
        differences += _against_csms(name, tx, verdict.status, verdict.energy_wh, stored)
    expected_raw, minted_raw, note = 0, None, None
    if ledger is not None and stored is not None:
        charges = ledger.charges.get(poc.session_id_hash(stored.session_id), [])
        mint = csms.mints.get(stored.session_id) if csms else None
        expected_raw, minted_raw, note, found = _against_ledger(
            name, verdict.energy_wh if verdict.verified else None, charges, mint
        )
        differences += found
    signature = verdict.end.signature.get("SD") if verdict.end is not None else None
    return SessionAudit(
        charger_id=tx.charger_id,
        transaction_ref=tx.transaction_ref,
        protocol=tx.protocol,
        session_id=stored.session_id if stored else None,
        id_token=tx.id_token,
        started_at=tx.started_at,
        stopped_at=tx.stopped_at,
        energy_wh=tx.energy_wh,
        verified_energy_wh=verdict.energy_wh,
        verification=verdict.status,
        reason=verdict.reason,
        signature=signature,
        meter_serial=verdict.end.meter_serial if verdict.end is not None else None,
        cost_minor=_told_minor(tx, stored),
        currency=stored.currency if stored else None,
        expected_mint_raw=expected_raw,
        minted_raw=minted_raw,
        differences=tuple(differences),
        mint_note=note,
    )


def _meter(tx: FrameTransaction, csms: CsmsRecord | None) -> MeterRegistration | None:
    """The registered meter; with no CSMS record, the key the readings carried (frames only)."""
    if csms is not None:
        return csms.meters.get((tx.charger_id, tx.evse_id or 0))
    if not tx.signed_end:
        return None
    try:
        carried = unwrap_signed(tx.signed_end)
        if carried.public_key_der is None:
            return None
        meter_serial = parse_record(carried.record).meter_serial
    except OcmfError:
        return None
    return MeterRegistration(
        tx.charger_id, tx.evse_id or 0, meter_serial or "", carried.public_key_der, tx.stopped_at
    )


def _against_csms(
    name: str,
    tx: FrameTransaction,
    status: Verification,
    energy_wh: int | None,
    stored: ChargingSession,
) -> list[str]:
    found = []
    if stored.energy_wh != tx.energy_wh:
        found.append(
            f"{name}: the frames say {tx.energy_wh} Wh, the CSMS stored {stored.energy_wh}"
        )
    if stored.verification is not status:
        found.append(
            f"{name}: the frames verify as {status.value}, the CSMS says {stored.verification}"
        )
    elif stored.verified_energy_wh != energy_wh:
        found.append(
            f"{name}: {energy_wh} Wh verified from the frames, the CSMS stored "
            f"{stored.verified_energy_wh}"
        )
    told = _told_minor(tx, stored)
    if told != stored.total_cost_minor:
        found.append(
            f"{name}: the driver was told {tx.cost} {stored.currency}, the CSMS billed "
            f"{stored.total_cost_minor} minor units"
        )
    return found


def _against_ledger(
    name: str, verified_wh: int | None, charges: list[RecordedCharge], mint: TokenTransaction | None
) -> tuple[int, int | None, str | None, list[str]]:
    """(expected raw, minted raw, note, differences) of one session on the ledger."""
    found: list[str] = []
    if len(charges) > 1:
        found.append(f"{name}: recorded {len(charges)} times on the ledger")
    charge = charges[0] if charges else None
    minted = charge.minted.total_raw if charge and charge.minted else None
    if verified_wh is None:
        if charge is not None:
            found.append(f"{name}: {minted} raw EVCH minted for energy that is not verified")
        return 0, minted, None, found
    if charge is None:
        if mint is not None and mint.status in _WAITING:
            return 0, None, f"not minted yet: {mint.error or mint.status.value}", found
        found.append(f"{name}: verified energy but no Proof-of-Charge on the ledger")
        return 0, None, None, found
    record = charge.record
    expected = poc.mint_amounts(charge.rates, verified_wh, record.reward_class)
    if record.energy_wh != verified_wh:
        found.append(
            f"{name}: the ledger recorded {record.energy_wh} Wh, the signed readings prove "
            f"{verified_wh}"
        )
    if charge.minted is not None and charge.minted != expected:
        found.append(f"{name}: minted {charge.minted}, the rates give {expected}")
    if mint is None or mint.amount_raw != minted:
        stored = None if mint is None else mint.amount_raw
        found.append(f"{name}: the ledger minted {minted} raw, the CSMS recorded {stored}")
    return expected.total_raw, minted, None, found


def _unexplained(
    transactions: list[FrameTransaction], csms: CsmsRecord | None, ledger: LedgerLog | None
) -> list[str]:
    """Sessions the CSMS has that the frames do not, and mints no session explains."""
    if csms is None:
        return []
    seen = {(tx.charger_id, tx.transaction_ref) for tx in transactions}
    found = [
        f"{s.charger_id} transaction {s.transaction_ref}: stored by the CSMS, not in the frames"
        for key, s in csms.sessions.items()
        if key not in seen
    ]
    if ledger is not None:
        known = {poc.session_id_hash(s.session_id) for s in csms.sessions.values()}
        found += [
            f"ledger: a Proof-of-Charge ({charges[0].signature}) for no session of the run"
            for session_hash, charges in ledger.charges.items()
            if session_hash not in known
        ]
    return found


def _limits(site_power: pd.DataFrame) -> tuple[LimitCheck, ...]:
    if site_power.empty:
        return ()
    checks = []
    for site_id, rows in site_power.groupby("site_id", sort=True):
        over = rows["peak_power_kw"] > rows["grid_limit_kw"] + 1e-9
        checks.append(
            LimitCheck(
                site_id=str(site_id),
                grid_limit_kw=float(rows["grid_limit_kw"].max()),
                peak_kw=float(rows["peak_power_kw"].max()),
                intervals=len(rows),
                intervals_over=int(over.sum()),
            )
        )
    return tuple(checks)


def run_ledger(run_dir: Path, manifest: dict) -> LedgerLog | None:
    """The run's ledger.jsonl, read; None for a run without tokens."""
    addresses = manifest.get("ledger")
    path = run_dir / "ledger.jsonl"
    if not addresses or not path.is_file():
        return None
    return read_ledger(path, addresses["proof_of_charge_program"], addresses["evch_mint"])


def read_manifest(run_dir: Path) -> dict:
    """manifest.json, or {} when the run has none."""
    path = run_dir / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def _told_minor(tx: FrameTransaction, stored: ChargingSession | None) -> int | None:
    """The final cost the driver was told, in minor units of the session's currency."""
    if tx.cost is None or stored is None or not stored.currency:
        return None
    return int(tx.cost.scaleb(minor_exponent(stored.currency)))
