"""Run directories for the views: which runs there are under a root, and one run loaded.

A run directory is what `evch run` writes (twin/runner.py). Its manifest.json is written last,
so a directory without one is not a run, or a run that did not finish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from programs.proof_of_charge import session_id_hash
from twin.replay.csms_store import read_csms
from twin.replay.ledger_log import LedgerLog
from twin.replay.reconcile import run_ledger
from twin.runner import RUN_FILES

MANIFEST = "manifest.json"
# What the run explorer cannot do without; the CSMS database and the ledger log are optional
# (a run without tokens has no ledger.jsonl).
REQUIRED = (MANIFEST, "sessions.parquet", "site_power.parquet", "events.jsonl")


class NotARunError(Exception):
    """The path is not a readable run directory; the message names it and what is wrong."""


@dataclass(frozen=True)
class RunInfo:
    path: Path
    scenario: str
    started_at: datetime | None  # when the run was made (wall clock), from the manifest
    sessions: int | None  # as the manifest counts them
    stamp: int  # newest mtime (ns) of the run's files: a new run in the same directory changes it

    @property
    def label(self) -> str:
        when = self.started_at.strftime("%Y-%m-%d %H:%M UTC") if self.started_at else "undated"
        sessions = "" if self.sessions is None else f", {self.sessions} sessions"
        return f"{self.path.name}: {self.scenario}, {when}{sessions}"


@dataclass(frozen=True)
class TokenFlows:
    """Where a run's EVCH went, from its ledger log (ledger.jsonl, read once)."""

    # One row per recorded Proof-of-Charge: t (UTC), session_id (the CSMS's; None if no session
    # of the run has its hash), driver_raw, operator_raw, reward_raw
    mints: pd.DataFrame
    # One row per session paid in EVCH: t (UTC), gross_raw, fee_raw
    payments: pd.DataFrame
    # EVCH supply after each change: t (UTC), supply_raw
    supply: pd.DataFrame
    log: LedgerLog  # what the tables are made of, for what they leave out (e.g. the rates)


@dataclass(frozen=True)
class RunData:
    info: RunInfo
    manifest: dict
    sessions: pd.DataFrame  # sessions.parquet
    site_power: pd.DataFrame  # site_power.parquet
    events: pd.DataFrame  # events.jsonl, `t` as UTC times
    prices: pd.DataFrame  # published prices (site_id, start, price_per_kwh, currency); may be empty
    tokens: TokenFlows | None  # None: the run ran without tokens


def list_runs(root: Path) -> list[RunInfo]:
    """The run directories directly below `root`, newest first; anything else is skipped."""
    if not root.is_dir():
        return []
    runs = []
    for child in root.iterdir():
        try:
            runs.append(run_info(child))
        except NotARunError:
            continue
    return sorted(runs, key=_newest_first)


def run_info(path: Path) -> RunInfo:
    """What the picker shows of a run; raises NotARunError."""
    return _info_and_manifest(path)[0]


def _info_and_manifest(path: Path) -> tuple[RunInfo, dict]:
    """The run's info and its manifest, read once; raises NotARunError."""
    if not path.exists():
        raise NotARunError(f"{path} does not exist")
    if not path.is_dir():
        raise NotARunError(f"{path} is a file, not a run directory")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if MANIFEST in missing:
        raise NotARunError(
            f"{path} is not a run directory: it has no {MANIFEST} (`evch run` writes it last, "
            "so the run may not have finished)"
        )
    if missing:
        raise NotARunError(f"{path} is not a complete run directory: no {', '.join(missing)}")
    manifest = _manifest(path)
    try:
        started = datetime.fromisoformat(manifest["run_started_at"])
    except (KeyError, TypeError, ValueError):
        started = None
    info = RunInfo(
        path=path,
        scenario=str(manifest.get("scenario", path.name)),
        started_at=started,
        sessions=manifest.get("sessions") if isinstance(manifest.get("sessions"), int) else None,
        stamp=max((path / name).stat().st_mtime_ns for name in RUN_FILES if (path / name).exists()),
    )
    return info, manifest


def load_run(path: Path) -> RunData:
    """Everything the run explorer shows of a run; raises NotARunError."""
    info, manifest = _info_and_manifest(path)
    sessions = _read(path / "sessions.parquet", pd.read_parquet)
    csms = path / "csms.sqlite"
    ledger = _read(path / "ledger.jsonl", lambda _: run_ledger(path, manifest))
    return RunData(
        info=info,
        manifest=manifest,
        sessions=sessions,
        site_power=_read(path / "site_power.parquet", pd.read_parquet),
        events=_read(path / "events.jsonl", _events),
        prices=_read(csms, lambda p: read_csms(p).prices) if csms.is_file() else pd.DataFrame(),
        tokens=None if ledger is None else _token_flows(ledger, sessions["session_id"]),
    )


def _token_flows(log: LedgerLog, session_ids: pd.Series) -> TokenFlows:
    by_hash = {session_id_hash(int(session_id)): int(session_id) for session_id in session_ids}
    mints = [
        (
            charge.at,
            by_hash.get(session_hash),
            charge.minted.driver_raw,
            charge.minted.operator_raw,
            charge.minted.reward_raw,
        )
        for session_hash, charges in log.charges.items()
        for charge in charges
        if charge.minted is not None
    ]
    return TokenFlows(
        mints=pd.DataFrame(
            mints, columns=["t", "session_id", "driver_raw", "operator_raw", "reward_raw"]
        ).sort_values("t", ignore_index=True),
        payments=pd.DataFrame(
            [(p.at, p.gross_raw, p.fee_raw) for p in log.payments],
            columns=["t", "gross_raw", "fee_raw"],
        ),
        supply=pd.DataFrame(log.supply, columns=["t", "supply_raw"]),
        log=log,
    )


def _newest_first(run: RunInfo) -> tuple[float, int]:
    return (-run.started_at.timestamp() if run.started_at else 0.0, -run.stamp)


def _manifest(path: Path) -> dict:
    manifest = _read(path / MANIFEST, lambda p: json.loads(p.read_text(encoding="utf-8")))
    if not isinstance(manifest, dict):
        raise NotARunError(f"{path / MANIFEST} is not a run manifest (not a JSON object)")
    return manifest


def _events(path: Path) -> pd.DataFrame:
    events = pd.read_json(path, lines=True, dtype=False, convert_dates=False)
    if not events.empty:
        events["t"] = pd.to_datetime(events["t"], utc=True)
    return events


def _read(path: Path, reader):
    """`reader(path)`, any failure to read it told as NotARunError naming the file."""
    try:
        return reader(path)
    except Exception as error:  # a damaged file of any kind: say which, never a traceback
        raise NotARunError(f"{path} is unreadable: {error}") from error
