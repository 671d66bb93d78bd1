"""`evch run`: one scenario, end to end, into a run directory.

The central system runs in-process on the scenario's virtual clock, with its own SQLite
database in the run directory; the emulated chargers connect to it over real WebSockets.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy

from central_system.app import CentralSystem
from central_system.config import Settings
from central_system.domain.model import (
    ChargingSession,
    IdToken,
    IdTokenStatus,
    Site,
    Verification,
)
from central_system.pricing import Money
from central_system.signals import SiteFeeds
from central_system.tokens.bootstrap import LAMPORTS_PER_SOL, TokenAuthorities, bootstrap
from central_system.tokens.service import TokenService
from twin.arrivals import Arrival, generated_arrivals, replayed_arrivals
from twin.clock import VirtualClock
from twin.conductor import Conductor
from twin.driver_app import DriverApp
from twin.ev import ChargingCurve
from twin.ev_catalogue import EvModel, load_ev_models
from twin.fleet import Fleet
from twin.quiescence import Quiescence
from twin.recorder import RunRecorder
from twin.scenario import Fault, LoadedScenario, Scenario, SessionsCsvArrivals
from twin.scenario import Site as SiteSpec
from twin.signals import DayAheadPrices, MarginalEmissions, PvArray
from twin.signals.feeds import sampled
from twin.site_power import SitePowerLog
from twin.tokens import Reconciliation, RecordingLedger, SimulatedKyc, reconcile
from twin.visit import Visit, VisitProcess, VisitRules

# Files of a previous run in the same directory that a new run replaces.
RUN_FILES = (
    "scenario.toml", "manifest.json", "ocpp_frames.jsonl", "events.jsonl", "sessions.parquet",
    "site_power.parquet", "csms.sqlite", "csms.sqlite-wal", "csms.sqlite-shm", "ledger.jsonl",
)  # fmt: skip

Progress = Callable[[float, float], None]  # (simulated seconds so far, total)
PV_STEP_S = 900  # the PV model's sampling step for the planner


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    arrivals: int
    sessions: int
    refused: dict[str, int]
    energy_kwh: float
    peak_kw: dict[str, float]
    simulated_s: float
    wall_s: float
    frames: int
    billed: dict[str, Money]  # what drivers paid, by currency (priced sites only)
    # Stopped sessions whose energy the meter's signatures prove, and the others by reason.
    verified: int = 0
    unverified: dict[str, int] = field(default_factory=dict)
    tokens: Reconciliation | None = None  # with [tokens] enabled

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall-clock second."""
        return self.simulated_s / self.wall_s if self.wall_s else float("inf")


def drivers_of(scenario: Scenario) -> list[str]:
    drivers = scenario.drivers
    width = len(str(drivers.count))
    return [f"{drivers.token_prefix}{n:0{width}d}" for n in range(1, drivers.count + 1)]


def arrivals_of(
    scenario: Scenario, models: dict[str, EvModel], rng: np.random.Generator
) -> tuple[list[Arrival], dict[str, int]]:
    """The scenario's arrivals (generated or replayed) and the source rows skipped, by reason."""
    population, arrivals = scenario.ev_population, scenario.arrivals
    common = {
        "population": models,
        "shares": population.shares,  # the builders normalise them
        "efficiency": population.efficiency,
        "arrival_soc": population.arrival_soc,
        "drivers": drivers_of(scenario),
        "leave_when_full": arrivals.leave_when_full,
        "rng": rng,
    }
    if arrivals.kind == "generated":
        generated = generated_arrivals(
            site_ids=[site.id for site in scenario.sites],
            start=scenario.start_at,
            end=scenario.end_at,
            zone=scenario.zone,
            rate_per_hour=arrivals.rate_per_hour,
            stay_h=_distribution(arrivals.stay_h),
            energy_kwh=_distribution(arrivals.energy_kwh),
            unknown_token_share=scenario.drivers.unknown_token_share,
            **common,
        )
        return generated, {}
    replayed = replayed_arrivals(
        path=arrivals.path,
        site_id=arrivals.site or scenario.sites[0].id,
        first_day=arrivals.start,
        days=arrivals.days,
        zone=scenario.zone,
        energy=arrivals.energy,
        **common,
    )
    return replayed.arrivals, replayed.skipped


def _distribution(spec) -> tuple[float, float, float, float | None]:
    return (spec.mean, spec.sd, spec.min, spec.max)


async def run_scenario(
    loaded: LoadedScenario, out_dir: Path, progress: Progress | None = None
) -> RunSummary:
    wall_start = time.perf_counter()
    run_started_at = datetime.now(UTC)  # for the manifest only; the run itself is virtual
    scenario = loaded.scenario
    seed = scenario.scenario.seed
    _clear(out_dir)
    env = simpy.Environment()
    clock = VirtualClock(env, scenario.start_at.astimezone(UTC))
    end_s = clock.at(scenario.end_at)
    models = load_ev_models(scenario.ev_population.models_file)
    arrivals, skipped = arrivals_of(scenario, models, np.random.default_rng(seed))

    recorder = RunRecorder(out_dir, clock.now)
    recorder.write_scenario(loaded.text)
    quiescence = Quiescence()
    settings = Settings(
        database_url=f"sqlite:///{(out_dir / 'csms.sqlite').resolve()}",
        host="127.0.0.1",
        ocpp_port=0,
        heartbeat_interval_s=scenario.timing.heartbeat_interval_s,
        replan_interval_s=scenario.timing.replan_interval_s,
    )
    central = CentralSystem(settings, clock, quiescence.observer("csms", recorder.frame))
    await central.start(with_api=False)
    tokens = (
        await _start_tokens(central, scenario, clock, out_dir) if scenario.tokens.enabled else None
    )
    fleet = Fleet(
        scenario,
        clock,
        central.ocpp_url,
        quiescence.observer("charger"),
        np.random.default_rng([seed, 1]),  # a stream of its own: bay choice
    )
    quiescence.watch_connections(fleet.connecting)
    quiescence.watch_threads(lambda: central.db.busy)
    power = SitePowerLog()
    try:
        await _onboard(central, fleet, scenario, quiescence)
        conductor = Conductor(env, quiescence)
        population = scenario.ev_population
        visits = VisitProcess(
            env,
            clock,
            conductor,
            fleet,
            recorder,
            power,
            models,
            VisitRules(
                end_s=end_s,
                power_step_s=scenario.timing.power_step_s,
                efficiency=population.efficiency,
                curve=ChargingCurve(population.taper_soc, population.taper_min_fraction),
                unknown_station=(
                    scenario.arrivals.unknown_station
                    if isinstance(scenario.arrivals, SessionsCsvArrivals)
                    else "any_free"
                ),
            ),
            app=DriverApp(central, seed, scenario.tokens.evch_payment_share),
        )
        for arrival in arrivals:
            if arrival.arrival < scenario.end_at:
                visits.start(arrival)
        for fault in scenario.faults:
            if fault.kind == "tamper_meter":
                env.process(_tamper(fault, fleet, conductor, recorder))
            else:
                env.process(_disconnect(fault, fleet, conductor, quiescence, recorder, end_s))
        await conductor.run(end_s, (lambda now_s: progress(now_s, end_s)) if progress else None)
        for charger in fleet:  # transaction messages still queued go out before we read
            async with asyncio.timeout(60):
                await charger.settle()
        stored = await central.service.list_sessions(limit=1_000_000)
        minted = None
        if tokens is not None:
            async with asyncio.timeout(60):
                await tokens.drained()
            minted = await reconcile(tokens, stored, await central.payments.settlements())
    finally:
        for charger in fleet:
            await charger.power_off()
        await central.stop()
        if tokens is not None:
            await tokens.ledger.close()
        recorder.close()

    sessions = sessions_table(visits.visits, stored, fleet)
    recorder.write_table("sessions.parquet", sessions)
    limits = {site.id: site.grid_limit_kw for site in scenario.sites}
    site_power = power.intervals(clock.start, end_s, scenario.timing.meter_interval_s, limits)
    recorder.write_table("site_power.parquet", site_power)
    refused = Counter(v.refused for v in visits.visits if v.refused)
    wall_s = time.perf_counter() - wall_start
    summary = RunSummary(
        out_dir=out_dir,
        arrivals=len(visits.visits),
        sessions=len(sessions),
        refused=dict(sorted(refused.items())),
        energy_kwh=float(sessions["energy_wh"].sum()) / 1000.0 if len(sessions) else 0.0,
        peak_kw={site: round(kw / 1000.0, 3) for site, kw in power.peak_kw().items()},
        simulated_s=end_s,
        wall_s=wall_s,
        frames=recorder.frame_count,
        billed=billed_by_currency(stored),
        verified=sum(s.verification is Verification.VERIFIED for s in stored),
        unverified=unverified_by_reason(stored),
        tokens=minted,
    )
    recorder.write_manifest(
        scenario=scenario.scenario.name,
        scenario_sha256=loaded.sha256,
        seed=seed,
        start=scenario.start_at.isoformat(),
        end=scenario.end_at.isoformat(),
        run_started_at=run_started_at.isoformat(),
        wall_time_s=round(wall_s, 3),
        steps=conductor.steps,
        arrivals=summary.arrivals,
        skipped_source_rows=skipped,
        sessions=summary.sessions,
        refused=summary.refused,
        frames=summary.frames,
        energy_kwh=round(summary.energy_kwh, 3),
        peak_kw=summary.peak_kw,
        billed={currency: str(money.major) for currency, money in summary.billed.items()},
        verified_sessions=summary.verified,
        unverified_sessions=summary.unverified,
        tokens=None if minted is None else minted.as_dict(),
        ledger=None if tokens is None else tokens.deployment.as_dict(),
    )
    return summary


async def _start_tokens(
    central: CentralSystem, scenario: Scenario, clock: VirtualClock, out_dir: Path
) -> TokenService:
    """EVCH on the embedded ledger, every transaction recorded in ledger.jsonl."""
    ledger = RecordingLedger(out_dir / "ledger.jsonl", clock)
    keys = TokenAuthorities()
    deployment = await bootstrap(ledger, keys, scenario.tokens.token_settings())
    await ledger.fund(keys.attestor.pubkey(), 100 * LAMPORTS_PER_SOL)  # pays session accounts
    kyc = SimulatedKyc(scenario.scenario.seed, scenario.tokens.kyc_approval_share)
    tokens = TokenService(central.db, clock, ledger, deployment, keys, kyc)
    central.attach_tokens(tokens, scenario.tokens.evch_peg())
    return tokens


async def _onboard(
    central: CentralSystem, fleet: Fleet, scenario: Scenario, quiescence: Quiescence
) -> None:
    """Register chargers and drivers with the CSMS, then connect the chargers one by one.

    One by one keeps the order of boot frames fixed, so the frame log is reproducible.
    """
    for charger_id, charger in fleet.chargers.items():
        await central.service.register_charger(charger_id)
        # The installer registers each meter's public key, as printed on the meter.
        for evse_id, (serial, public_key_der) in charger.meter_keys().items():
            await central.service.register_meter(charger_id, evse_id, serial, public_key_der)
    for site in scenario.sites:
        evse_power_w = {
            spec.charger_id: spec.max_power_kw * 1000.0
            for spec in fleet.specs.values()
            if spec.site_id == site.id
        }
        await central.add_site(
            Site(
                site_id=site.id,
                name=site.name,
                grid_limit_w=site.grid_limit_kw * 1000.0,
                policy=site.policy,
                evse_power_w=evse_power_w,
                tariff=site.tariff,
                fx=scenario.fx,
            ),
            feeds_of(scenario, site),
        )
    for token in drivers_of(scenario):
        await central.service.upsert_id_token(IdToken(token, "ISO14443", IdTokenStatus.ACTIVE))
        if central.tokens is not None:  # every driver has a custodial wallet, KYC decides
            await central.tokens.open_wallet(token)
            await central.tokens.verify(token)
    for charger in fleet:
        await charger.power_on()
        await quiescence.settled()
        if not charger.online:
            raise RuntimeError(f"{charger.id} did not come online at the start of the run")


def feeds_of(scenario: Scenario, site: SiteSpec) -> SiteFeeds:
    """The site's recorded grid signals and PV model, as the central system's feeds."""
    zone = scenario.site_zone(site)
    start, end = scenario.start_at, scenario.end_at
    wholesale = pv = carbon = None
    if site.grid.day_ahead_prices_csv is not None:
        wholesale = DayAheadPrices.load(site.grid.day_ahead_prices_csv, scenario_zone=zone)
    if site.grid.marginal_emissions_csv is not None:
        moer = MarginalEmissions.load(site.grid.marginal_emissions_csv, scenario_zone=zone)
        carbon = sampled(moer, start, end, MarginalEmissions.resolution_s, scale=1000.0)  # g
    if site.pv is not None:
        array = PvArray(
            latitude=site.location.latitude,
            longitude=site.location.longitude,
            kwp=site.pv.kwp,
            tilt=site.pv.tilt_deg,
            azimuth=site.pv.azimuth_deg,
        )
        pv = sampled(array, start, end, PV_STEP_S)
    return SiteFeeds(wholesale=wholesale, pv_w=pv, carbon_g_per_kwh=carbon)


def _disconnect(
    fault: Fault,
    fleet: Fleet,
    conductor: Conductor,
    quiescence: Quiescence,
    recorder: RunRecorder,
    end_s: float,
) -> Generator[simpy.Event, Any, None]:
    """Fault injection: the charger's network drops for a while, then comes back."""
    charger = fleet.chargers[fault.charger]
    yield conductor.env.timeout(fault.at_h * 3600.0)
    yield conductor.act(charger.go_offline())
    quiescence.forget(charger.id)
    recorder.event("fault_start", fault=fault.kind, charger_id=charger.id)
    remaining_s = end_s - conductor.env.now
    yield conductor.env.timeout(min(fault.duration_min * 60.0, remaining_s))
    charger.go_online()
    recorder.event("fault_end", fault=fault.kind, charger_id=charger.id)


def _tamper(
    fault: Fault, fleet: Fleet, conductor: Conductor, recorder: RunRecorder
) -> Generator[simpy.Event, Any, None]:
    """Fault injection: the charger inflates its stop readings after the meter signed them."""
    yield conductor.env.timeout(fault.at_h * 3600.0)
    fleet.chargers[fault.charger].tamper_wh = fault.added_wh
    recorder.event(
        "fault_start", fault=fault.kind, charger_id=fault.charger, added_wh=fault.added_wh
    )


def unverified_by_reason(stored: list[ChargingSession]) -> dict[str, int]:
    """Sessions whose energy is not verified, counted by reason code (e.g. BAD_SIGNATURE)."""
    reasons = Counter(
        (s.verification_reason or "").partition(":")[0]
        for s in stored
        if s.verification is Verification.UNVERIFIED
    )
    return dict(sorted(reasons.items()))


def billed_by_currency(stored: list[ChargingSession]) -> dict[str, Money]:
    totals: dict[str, Money] = {}
    for session in stored:
        if session.total_cost_minor is not None:
            cost = Money(session.total_cost_minor, session.currency)
            totals[cost.currency] = totals.get(cost.currency, Money.zero(cost.currency)) + cost
    return dict(sorted(totals.items()))


def sessions_table(
    visits: list[Visit], stored: list[ChargingSession], fleet: Fleet
) -> pd.DataFrame:
    """One row per charging session: the twin's view beside what the CSMS stored."""
    by_ref = {(s.charger_id, s.transaction_ref): s for s in stored}
    rows = []
    for visit in visits:
        if visit.transaction is None or visit.bay is None:
            continue
        bay, arrival, transaction = visit.bay, visit.arrival, visit.transaction
        session = by_ref.get((bay.charger_id, transaction.transaction_id))
        shown = bay.charger.display.final_cost(transaction.transaction_id)
        rows.append(
            {
                "session_id": session.session_id if session else None,
                "transaction_id": transaction.transaction_id,
                "arrival_id": arrival.arrival_id,
                "site_id": arrival.site_id,
                "charger_id": bay.charger_id,
                "evse_id": bay.evse_id,
                "protocol": fleet.specs[bay.charger_id].protocol,
                "id_token": arrival.id_token,
                "ev_model": arrival.ev_model,
                "arrival_soc": arrival.arrival_soc,
                "source_session_id": arrival.source_session_id,
                "arrival": arrival.arrival,
                "start": visit.started_at,
                "stop": visit.stopped_at,
                "departure": visit.departed_at,
                "energy_wh": visit.meter_stop_wh - transaction.meter_start_wh,
                "csms_energy_wh": session.energy_wh if session else None,
                "csms_state": session.state.value if session else None,
                # The bill (minor units) and the total the charger showed the driver.
                "cost_minor": session.total_cost_minor if session else None,
                "currency": session.currency if session else None,
                "displayed_cost": None if shown is None else str(shown),
                "ev_energy_wh": visit.ev.gained_wh,
                "efficiency": visit.ev.efficiency,
                "requested_wh": arrival.requested_wh,
                "need_wh": arrival.need_wh,
                "truncated": visit.truncated,
                "ended_by_charger": visit.ended_by_charger,
                "remapped": visit.remapped,
            }
        )
    table = pd.DataFrame(rows)
    for column in ("arrival", "start", "stop", "departure"):
        if column in table:
            table[column] = pd.to_datetime(table[column], utc=True)
    return table


def _clear(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a directory")
    for name in RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)
