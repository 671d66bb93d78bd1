"""Demand for the tokenomics model, measured in the twin's run directories.

From each run: its stations (charge points registered at the CSMS), days, sessions, energy per
session, the share of energy the ledger rewarded as off-peak and as renewable, and the average
price per kWh (converted to USD with the run's own [fx] rates, when it has one). Several runs
pool their sessions and energy, so a week of one site and a day of another weigh by their size.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from central_system.pricing import FxConfig, Money, PricingError, exact
from programs.proof_of_charge import RewardClass
from twin.replay.csms_store import read_csms
from twin.replay.reconcile import RunDirError, read_manifest, run_ledger
from twin.tokenomics.params import Demand

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class RunDemand:
    """What one run measured."""

    run: str
    stations: int
    days: float
    sessions: int
    energy_kwh: float
    off_peak_kwh: float
    renewable_kwh: float
    rewarded_kwh: float  # energy the ledger recorded (the base of both reward shares)
    billed_usd: float | None  # None: the run has no USD rate for its currency
    currency: str


@dataclass(frozen=True)
class Calibration:
    demand: Demand
    runs: tuple[RunDemand, ...]
    notes: tuple[str, ...]  # what could not be measured and kept its prior value

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([vars(run) for run in self.runs])


def calibrate(run_dirs: Sequence[Path], prior: Demand | None = None) -> Calibration:
    """``prior`` with everything the runs measure replaced by the measurement (adoption growth
    and noise stay as they were: one run cannot tell them)."""
    if not run_dirs:
        raise RunDirError("no run directory to calibrate from")
    prior = prior or Demand()
    runs = tuple(measure(Path(run_dir)) for run_dir in run_dirs)
    notes: list[str] = []
    station_days = sum(run.stations * run.days for run in runs)
    sessions = sum(run.sessions for run in runs)
    energy = sum(run.energy_kwh for run in runs)
    if sessions == 0:
        raise RunDirError("the runs have no completed session to calibrate from")
    changes: dict[str, float] = {
        "stations": sum(run.stations for run in runs) / len(runs),
        "sessions_per_station_day": sessions / station_days,
        "energy_per_session_kwh": energy / sessions,
    }
    rewarded = sum(run.rewarded_kwh for run in runs)
    if rewarded > 0:
        changes["off_peak_share"] = sum(run.off_peak_kwh for run in runs) / rewarded
        changes["renewable_share"] = sum(run.renewable_kwh for run in runs) / rewarded
    else:
        notes.append("no run recorded sessions on a ledger: off-peak and renewable shares kept")
    priced = [run for run in runs if run.billed_usd is not None]
    if priced:
        priced_kwh = sum(run.energy_kwh for run in priced)
        changes["kwh_price_usd"] = sum(run.billed_usd or 0 for run in priced) / priced_kwh
    for run in runs:
        if run.billed_usd is None:
            notes.append(f"{run.run}: no [fx] rate from {run.currency} to USD: its price not used")
    return Calibration(Demand.model_validate(prior.model_dump() | changes), runs, tuple(notes))


def measure(run_dir: Path) -> RunDemand:
    """One run's demand. RunDirError when it is not a finished run directory."""
    manifest = read_manifest(run_dir)
    sessions_path = run_dir / "sessions.parquet"
    if not manifest or not sessions_path.is_file() or not (run_dir / "csms.sqlite").is_file():
        raise RunDirError(
            f"{run_dir} is not a finished run: it needs manifest.json, sessions.parquet and "
            "csms.sqlite (run `evch run SCENARIO` first)"
        )
    sessions = pd.read_parquet(sessions_path)
    days = (
        datetime.fromisoformat(manifest["end"]) - datetime.fromisoformat(manifest["start"])
    ).total_seconds() / SECONDS_PER_DAY
    off_peak = renewable = rewarded = 0.0
    ledger = run_ledger(run_dir, manifest)
    for charges in ledger.charges.values() if ledger else ():
        record = charges[0].record
        kwh = record.energy_wh / 1000
        rewarded += kwh
        off_peak += kwh if record.reward_class & RewardClass.OFF_PEAK else 0.0
        renewable += kwh if record.reward_class & RewardClass.RENEWABLE else 0.0
    currency = str(sessions["currency"].iloc[0]) if len(sessions) else "USD"
    return RunDemand(
        run=manifest.get("scenario", run_dir.name),
        stations=len(read_csms(run_dir / "csms.sqlite").chargers),
        days=days,
        sessions=len(sessions),
        energy_kwh=float(sessions["energy_wh"].sum()) / 1000,
        off_peak_kwh=off_peak,
        renewable_kwh=renewable,
        rewarded_kwh=rewarded,
        billed_usd=_in_usd(run_dir, sessions, currency),
        currency=currency,
    )


def _in_usd(run_dir: Path, sessions: pd.DataFrame, currency: str) -> float | None:
    """What the run billed, in USD at its own [fx] rate; None without a rate to USD."""
    billed = Money(int(sessions["cost_minor"].sum()), currency)
    fx = tomllib.loads((run_dir / "scenario.toml").read_text(encoding="utf-8")).get("fx")
    try:
        table = FxConfig.model_validate(fx or {"rates": {}}).table()
        return float(exact(billed.major) * table.rate(currency, "USD"))
    except PricingError:
        return None
