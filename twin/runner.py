"""`evch run`: one scenario, end to end, into a run directory.

The central system runs in-process on the scenario's virtual clock, with its own SQLite
database in the run directory; the emulated chargers connect to it over real WebSockets.

Real-time runs (`RealtimeOptions`) pace SimPy by the wall clock (twin/realtime.py); with an
external CSMS (a HIL rig) the fleet connects to it instead, onboarding goes through its REST API
(twin/csms_link.py), and the scenario's real chargers ([[hardware]]) are driven through it
(twin/hardware.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy

from central_system.app import CentralSystem
from central_system.domain.model import ChargingSession, Verification
from central_system.pricing import Money
from central_system.signals import SiteFeeds
from central_system.tokens.service import TokenService
from twin.arrivals import Arrival, generated_arrivals, replayed_arrivals
from twin.clock import VirtualClock
from twin.conductor import Conductor
from twin.csms_client import CsmsApi
from twin.csms_link import ExternalCsms, InProcessCsms
from twin.ev import ChargingCurve
from twin.ev_catalogue import EvModel, load_ev_models
from twin.fleet import Fleet
from twin.hardware import CsmsHardware
from twin.quiescence import Quiescence
from twin.realtime import LagStats, RealtimeClock, RealtimeConductor, SteppedRealtimeEnvironment
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
    # Real-time runs: how late events due before the end were processed, and all events (with
    # the end, when every EV still there leaves at once, and the wind-down after it).
    lag: LagStats | None = None
    lag_with_end: LagStats | None = None
    real_chargers: tuple[str, ...] = ()  # HIL: the chargers the twin did not emulate

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


@dataclass(frozen=True)
class RealtimeOptions:
    """A run paced by the wall clock (`evch run --realtime`).

    Without `csms_url` the central system still runs in-process (on the twin's real-time clock,
    on the scenario's dates). With it, the fleet connects to that external CSMS, which the twin
    reaches over OCPP and `api_url` only (HIL); the run then starts at the wall clock's now
    (timestamps agree with the CSMS's and the real chargers' at speed 1), the scenario's
    arrivals moved along with it.
    """

    speed: float = 1.0  # simulated seconds per wall second
    csms_url: str | None = None  # ws://HOST:PORT/ocpp (charger ids are appended)
    api_url: str | None = None  # http://HOST:PORT/api/v1
    api_token: str | None = None  # sent as `Authorization: Bearer ...`
    real_poll_s: float = 60.0  # how often a real charger's measured power is read (simulated s)

    @property
    def external(self) -> bool:
        return self.csms_url is not None


class RunModeError(ValueError):
    """The scenario cannot run in the mode asked for (e.g. hardware without an external CSMS)."""


def check_mode(scenario: Scenario, realtime: RealtimeOptions | None) -> None:
    external = realtime is not None and realtime.external
    if scenario.hardware and not external:
        raise RunModeError(
            "the scenario lists real chargers ([[hardware]]): run it with --realtime and the "
            "rig's CSMS (--csms-url, --api-url)"
        )
    if external and realtime.api_url is None:
        raise RunModeError("an external CSMS (--csms-url) needs its REST API too (--api-url)")
    if external and scenario.tokens.enabled:
        raise RunModeError(
            "[tokens] runs the twin's own ledger beside its in-process CSMS; against an "
            "external CSMS, EVCH is that CSMS's (evch serve --tokens): disable [tokens]"
        )


async def run_scenario(
    loaded: LoadedScenario,
    out_dir: Path,
    progress: Progress | None = None,
    realtime: RealtimeOptions | None = None,
) -> RunSummary:
    wall_start = time.perf_counter()
    run_started_at = datetime.now(UTC)  # for the manifest only; the run itself is virtual
    scenario = loaded.scenario
    check_mode(scenario, realtime)
    seed = scenario.scenario.seed
    _clear(out_dir)
    start_utc = scenario.start_at.astimezone(UTC)
    duration_s = (scenario.end_at - scenario.start_at).total_seconds()
    if realtime is None:
        env = simpy.Environment()
        clock: VirtualClock | RealtimeClock = VirtualClock(env, start_utc)
    else:
        env = SteppedRealtimeEnvironment(realtime.speed)
        clock = RealtimeClock(env, start_utc, wall_anchored=realtime.external)
    models = load_ev_models(scenario.ev_population.models_file)
    arrivals, skipped = arrivals_of(scenario, models, np.random.default_rng(seed))

    recorder = RunRecorder(out_dir, clock.now)
    recorder.write_scenario(loaded.text)
    quiescence = Quiescence()
    api = None
    if realtime is not None and realtime.external:
        api = CsmsApi(realtime.api_url, realtime.api_token)
        csms: InProcessCsms | ExternalCsms = ExternalCsms(
            realtime.csms_url, api, quiescence, recorder
        )
    else:
        csms = InProcessCsms(scenario, clock, out_dir, quiescence, recorder)
    await csms.start()
    tokens = None
    if isinstance(csms, InProcessCsms) and scenario.tokens.enabled:
        tokens = await _start_tokens(csms.central, scenario, clock, out_dir)
    fleet = Fleet(
        scenario,
        clock,
        csms.ocpp_url,
        csms.charger_observer,
        np.random.default_rng([seed, 1]),  # a stream of its own: bay choice
    )
    quiescence.watch_connections(fleet.connecting)
    power = SitePowerLog()
    conductor: Conductor | RealtimeConductor | None = None
    visits: VisitProcess | None = None
    try:
        feeds = {site.id: feeds_of(scenario, site) for site in scenario.sites}
        await csms.onboard(fleet, scenario, feeds, drivers_of(scenario))
        if isinstance(clock, RealtimeClock):
            # Time runs while the chargers boot, so their timers (meter values, heartbeats)
            # are spread as their boots are, not all due at the same instant.
            conductor = RealtimeConductor(env, clock)
            clock.go()
            conductor.begin()
        else:
            conductor = Conductor(env, quiescence)
        await _power_on(fleet, quiescence)
        if api is not None:  # the rig's chargers boot by themselves: were they there?
            for real in scenario.hardware:
                online = await api.charger_online(real.id)
                recorder.event("real_charger", charger_id=real.id, site_id=real.site, online=online)
        # The scenario's time starts once every charger is up (virtual runs: at once).
        start_s = await conductor.catch_up()
        run_start = clock.start + timedelta(seconds=start_s)
        end_s, end_at = start_s + duration_s, run_start + timedelta(seconds=duration_s)
        arrivals = _moved(arrivals, run_start - start_utc)
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
                real_poll_s=realtime.real_poll_s if realtime else 60.0,
            ),
            app=csms.driver_app(seed, scenario.tokens.evch_payment_share),
            hardware=(
                CsmsHardware(api, {real.id: real.id_token for real in scenario.hardware})
                if api is not None and scenario.hardware
                else None
            ),
        )
        for arrival in arrivals:
            if arrival.arrival < end_at:
                visits.start(arrival)
        for fault in scenario.faults:
            if fault.kind == "tamper_meter":
                env.process(_tamper(fault, fleet, conductor, recorder, start_s))
            else:
                env.process(
                    _disconnect(fault, fleet, conductor, quiescence, recorder, start_s, end_s)
                )
        await conductor.run(
            end_s,
            (lambda now_s: progress(max(0.0, now_s - start_s), duration_s)) if progress else None,
        )
        for charger in fleet:  # transaction messages still queued go out before we read
            async with asyncio.timeout(60):
                await charger.settle()
        stored = await csms.stored_sessions(_transactions(visits.visits))
        minted = None
        if tokens is not None:
            async with asyncio.timeout(60):
                await tokens.drained()
            minted = await reconcile(tokens, stored, await csms.central.payments.settlements())
    finally:
        for charger in fleet:
            await charger.power_off()
        await csms.stop()
        if tokens is not None:
            await tokens.ledger.close()
        recorder.close()

    sessions = sessions_table(visits.visits, stored, fleet)
    recorder.write_table("sessions.parquet", sessions)
    limits = {site.id: site.grid_limit_kw for site in scenario.sites}
    interval_s = scenario.timing.meter_interval_s
    site_power = power.intervals(run_start, end_s, interval_s, limits, from_s=start_s)
    recorder.write_table("site_power.parquet", site_power)
    refused = Counter(v.refused for v in visits.visits if v.refused)
    wall_s = time.perf_counter() - wall_start
    lag = lag_with_end = None
    if isinstance(conductor, RealtimeConductor):
        lag, lag_with_end = conductor.lag(before_s=end_s), conductor.lag()
    summary = RunSummary(
        out_dir=out_dir,
        arrivals=len(visits.visits),
        sessions=len(sessions),
        refused=dict(sorted(refused.items())),
        energy_kwh=float(sessions["energy_wh"].sum()) / 1000.0 if len(sessions) else 0.0,
        peak_kw={site: round(kw / 1000.0, 3) for site, kw in power.peak_kw().items()},
        simulated_s=duration_s,
        wall_s=wall_s,
        frames=recorder.frame_count,
        billed=billed_by_currency(stored),
        verified=sum(s.verification is Verification.VERIFIED for s in stored),
        unverified=unverified_by_reason(stored),
        tokens=minted,
        lag=lag,
        lag_with_end=lag_with_end,
        real_chargers=tuple(spec.charger_id for _, spec in scenario.hardware_chargers()),
    )
    recorder.write_manifest(
        scenario=scenario.scenario.name,
        scenario_sha256=loaded.sha256,
        seed=seed,
        start=run_start.astimezone(scenario.zone).isoformat(),
        end=end_at.astimezone(scenario.zone).isoformat(),
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
        **_realtime_manifest(scenario, realtime, summary),
    )
    return summary


def _realtime_manifest(
    scenario: Scenario, realtime: RealtimeOptions | None, summary: RunSummary
) -> dict[str, Any]:
    """The manifest's account of time and of the central system (only for real-time runs)."""
    if realtime is None:
        return {}
    return {
        "time": "realtime",
        "realtime": {
            "speed": realtime.speed,
            "csms": realtime.csms_url or "in-process",
            "api_url": realtime.api_url,
            "scenario_start": scenario.start_at.isoformat(),
            # Wall-clock lag of the events due before the end of the run, then of them all.
            "lag": None if summary.lag is None else summary.lag.as_dict(),
            "lag_with_end": None
            if summary.lag_with_end is None
            else summary.lag_with_end.as_dict(),
        },
        # The chargers of the rig the twin did not emulate: no frames of theirs are recorded
        # (they talk to the CSMS directly); their sessions are marked real in sessions.parquet.
        "hardware": [
            {
                "charger_id": spec.charger_id,
                "site_id": spec.site_id,
                "protocol": spec.protocol,
                "evses": spec.evses,
                "max_power_kw": spec.max_power_kw,
                "real": True,
            }
            for _, spec in scenario.hardware_chargers()
        ],
    }


def _transactions(visits: list[Visit]) -> list[tuple[str, str]]:
    """(charger id, transaction ref) of every transaction the run's visits saw."""
    found = []
    for visit in visits:
        if visit.bay is None:
            continue
        if visit.real_session is not None:
            found.append((visit.bay.charger_id, visit.real_session.transaction_ref))
        elif visit.transaction is not None and visit.transaction.transaction_id is not None:
            found.append((visit.bay.charger_id, visit.transaction.transaction_id))
    return found


def _moved(arrivals: list[Arrival], offset: timedelta) -> list[Arrival]:
    """The arrivals, moved to a run that starts `offset` later than the scenario says."""
    if not offset:
        return arrivals
    return [
        replace(a, arrival=a.arrival + offset, departure=a.departure + offset) for a in arrivals
    ]


async def _power_on(fleet: Fleet, quiescence: Quiescence) -> None:
    """Connect the chargers one by one: that keeps the order of boot frames fixed, so the frame
    log is reproducible."""
    for charger in fleet:
        await charger.power_on()
        await quiescence.settled()
        if not charger.online:
            raise RuntimeError(f"{charger.id} did not come online at the start of the run")


async def _start_tokens(
    central: CentralSystem, scenario: Scenario, clock: VirtualClock | RealtimeClock, out_dir: Path
) -> TokenService:
    """EVCH on the embedded ledger, every transaction recorded in ledger.jsonl."""
    ledger = RecordingLedger(out_dir / "ledger.jsonl", clock)
    kyc = SimulatedKyc(scenario.scenario.seed, scenario.tokens.kyc_approval_share)
    settings, peg = scenario.tokens.token_settings(), scenario.tokens.evch_peg()
    return await central.deploy_tokens(ledger, settings, kyc, peg)


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
    conductor: Conductor | RealtimeConductor,
    quiescence: Quiescence,
    recorder: RunRecorder,
    start_s: float,
    end_s: float,
) -> Generator[simpy.Event, Any, None]:
    """Fault injection: the charger's network drops for a while, then comes back."""
    charger = fleet.chargers[fault.charger]
    yield _at(conductor.env, start_s + fault.at_h * 3600.0)
    yield conductor.act(charger.go_offline())
    quiescence.forget(charger.id)
    recorder.event("fault_start", fault=fault.kind, charger_id=charger.id)
    remaining_s = end_s - conductor.env.now
    yield conductor.env.timeout(min(fault.duration_min * 60.0, remaining_s))
    charger.go_online()
    recorder.event("fault_end", fault=fault.kind, charger_id=charger.id)


def _tamper(
    fault: Fault,
    fleet: Fleet,
    conductor: Conductor | RealtimeConductor,
    recorder: RunRecorder,
    start_s: float,
) -> Generator[simpy.Event, Any, None]:
    """Fault injection: the charger inflates its stop readings after the meter signed them."""
    yield _at(conductor.env, start_s + fault.at_h * 3600.0)
    fleet.chargers[fault.charger].tamper_wh = fault.added_wh
    recorder.event(
        "fault_start", fault=fault.kind, charger_id=fault.charger, added_wh=fault.added_wh
    )


def _at(env: simpy.Environment, at_s: float) -> simpy.Timeout:
    """A timeout that fires at simulated time `at_s` (at once if that is past)."""
    return env.timeout(max(0.0, at_s - env.now))


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
        bay = visit.bay
        if bay is None:
            continue
        if visit.real_session is not None:
            # A real charger (HIL): the energy is what it metered, as the CSMS stored it; the
            # twin had no battery behind it.
            seen = visit.real_session
            session = by_ref.get((bay.charger_id, seen.transaction_ref), seen)
            row = _session_row(
                visit,
                session,
                fleet,
                transaction_id=session.transaction_ref,
                id_token=session.id_token,  # the rig's test card, not the driver's
                energy_wh=session.energy_wh,
            )
        elif visit.transaction is not None:
            transaction = visit.transaction
            session = by_ref.get((bay.charger_id, transaction.transaction_id))
            shown = bay.charger.display.final_cost(transaction.transaction_id)
            row = _session_row(
                visit,
                session,
                fleet,
                transaction_id=transaction.transaction_id,
                id_token=visit.arrival.id_token,
                energy_wh=visit.meter_stop_wh - transaction.meter_start_wh,
                displayed_cost=None if shown is None else str(shown),
                ev_energy_wh=visit.ev.gained_wh,
                efficiency=visit.ev.efficiency,
            )
        else:
            continue
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("arrival", "start", "stop", "departure"):
        if column in table:
            table[column] = pd.to_datetime(table[column], utc=True)
    return table


def _session_row(
    visit: Visit,
    session: ChargingSession | None,
    fleet: Fleet,
    *,
    transaction_id: str | None,
    id_token: str | None,
    energy_wh: float | None,
    displayed_cost: str | None = None,
    ev_energy_wh: float | None = None,
    efficiency: float | None = None,
) -> dict[str, Any]:
    bay, arrival = visit.bay, visit.arrival
    assert bay is not None
    return {
        "session_id": session.session_id if session else None,
        "transaction_id": transaction_id,
        "arrival_id": arrival.arrival_id,
        "site_id": arrival.site_id,
        "charger_id": bay.charger_id,
        "evse_id": bay.evse_id,
        "protocol": fleet.specs[bay.charger_id].protocol,
        "id_token": id_token,
        "ev_model": arrival.ev_model,
        "arrival_soc": arrival.arrival_soc,
        "source_session_id": arrival.source_session_id,
        "arrival": arrival.arrival,
        "start": visit.started_at,
        "stop": visit.stopped_at,
        "departure": visit.departed_at,
        "energy_wh": energy_wh,
        "csms_energy_wh": session.energy_wh if session else None,
        "csms_state": session.state.value if session else None,
        # The bill (minor units) and the total the charger showed the driver.
        "cost_minor": session.total_cost_minor if session else None,
        "currency": session.currency if session else None,
        "displayed_cost": displayed_cost,
        "ev_energy_wh": ev_energy_wh,
        "efficiency": efficiency,
        "requested_wh": arrival.requested_wh,
        "need_wh": arrival.need_wh,
        "truncated": visit.truncated,
        "ended_by_charger": visit.ended_by_charger,
        "remapped": visit.remapped,
        "real": visit.real_session is not None,
    }


def _clear(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a directory")
    for name in RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)
