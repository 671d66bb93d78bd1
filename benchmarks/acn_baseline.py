"""acnportal beside evch's twin: the same recorded sessions, the same site, the same cap.

One place for the acnportal side of `benchmarks/twin_week.py` and of
`tests/twin/test_acnportal_parity.py`, and for the scenario variants both run through evch.

- `scenario_variant` writes a copy of a replay scenario with another policy, grid limit or
  number of replayed days (paths made absolute, so the copy can live anywhere).
- `recorded_sessions` reads the sessions of the scenario's ACN-Data CSV that the twin replays.
- `run_acnportal` replays them in acnportal 0.3.3 (`acnsim.Simulator`) on `site_network`: the
  scenario's site as acnportal sees it, one continuous EVSE per charger with the charger's
  power (`max_power_kw` / `VOLTAGE_V`), every EVSE on one phase, and one aggregate `Current`
  constraint over all of them at the cap converted at that voltage. With one phase angle the
  constraint's phasor sum is the plain sum of the currents, so the constraint is exactly
  "aggregate power <= cap", the figure `analysis.aggregate_power` reports. Nothing else limits
  the site (no pods or transformer phases, unlike `acnsim.sites.caltech_acn`): the twin has
  only the grid limit. Each EV asks for the session's delivered energy (as the twin's
  `energy = "delivered"`), with an ideal `Battery` sized to it, empty at arrival, rated at
  the EVSE's power (no taper, no on-board charger limit). Times as acnportal converts ACN-Data:
  whole periods from the start of the run, arrival and departure rounded down; departures
  after the run's end are cut there.

acnportal is imported inside the functions that use it: the evch side works without it.
"""

from __future__ import annotations

import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import tomlkit

VOLTAGE_V = 208.0  # the Caltech ACN's EVSE voltage (acnsim.sites.caltech_acn)
PHASE_DEG = 0.0  # one phase for all: the aggregate constraint is a plain sum
ALGORITHMS = ("uncontrolled", "edf", "llf")


# -- scenario variants --------------------------------------------------------------------
def scenario_variant(
    source: Path,
    folder: Path,
    *,
    name: str | None = None,
    policy: str | None = None,
    grid_limit_kw: float | None = None,
    days: int | None = None,
) -> Path:
    """A copy of the replay scenario `source` in `folder`, with what is given changed.

    `policy` and `grid_limit_kw` apply to the replayed site; `days` replays that many local
    days from `[arrivals] start` and ends the run at local midnight after the last one.
    Relative paths (models file, sessions file) become absolute. Returns the new file's path.
    """
    source = Path(source)
    base = source.resolve().parent
    doc = tomlkit.parse(source.read_text(encoding="utf-8"))
    meta, arrivals = doc["scenario"], doc["arrivals"]
    if arrivals["kind"] != "sessions_csv":
        raise ValueError(f"{source}: not a replay scenario (arrivals kind {arrivals['kind']!r})")
    for table, key in ((doc["ev_population"], "models_file"), (arrivals, "path")):
        if not Path(table[key]).is_absolute():
            table[key] = str((base / table[key]).resolve())
    name = name or f"{meta['name']}-{policy or 'same'}-{grid_limit_kw or 'same'}kw"
    meta["name"] = name
    site_id = arrivals.get("site") or doc["sites"][0]["id"]
    site = next(site for site in doc["sites"] if site["id"] == site_id)
    if policy is not None:
        site["policy"] = policy
    if grid_limit_kw is not None:
        site["grid_limit_kw"] = float(grid_limit_kw)
    if days is not None:
        arrivals["days"] = days
        zone = ZoneInfo(str(meta["time_zone"]))
        start = datetime.fromisoformat(meta["start"].isoformat())
        start = start.replace(tzinfo=zone) if start.tzinfo is None else start
        first_day = datetime.fromisoformat(arrivals["start"].isoformat()).date()
        end = datetime.combine(first_day + timedelta(days=days), clock_time(), zone)
        meta["duration_h"] = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return path


# -- the recorded sessions ----------------------------------------------------------------
def recorded_sessions(loaded) -> pd.DataFrame:
    """The CSV's sessions that arrive in the scenario's replay window, in arrival order.

    The window is the one the twin replays (`[arrivals] start`, `days`, local days); rows with
    a departure not after the arrival or no delivered energy are dropped, as the twin does.
    """
    scenario = loaded.scenario
    spec = scenario.arrivals
    frame = pd.read_csv(spec.path)
    arrival = pd.to_datetime(frame["arrival"], utc=True, errors="coerce")
    departure = pd.to_datetime(frame["departure"], utc=True, errors="coerce")
    delivered = pd.to_numeric(frame["delivered_energy (kWh)"], errors="coerce")
    local_day = arrival.dt.tz_convert(scenario.zone).dt.date
    last_day = spec.start + timedelta(days=spec.days)
    keep = (
        arrival.notna()
        & local_day.ge(spec.start)
        & local_day.lt(last_day)
        & (departure > arrival)
        & (delivered > 0)
    )
    return (
        pd.DataFrame(
            {
                "session_id": frame.loc[keep, "session_id"],
                "station_id": frame.loc[keep, "station_id"],
                "arrival": arrival[keep],
                "departure": departure[keep],
                "delivered_kwh": delivered[keep],
            }
        )
        .sort_values(["arrival", "session_id"], kind="stable")
        .reset_index(drop=True)
    )


# -- acnportal ----------------------------------------------------------------------------
def replayed_site(loaded):
    """The scenario's site that the sessions are replayed at."""
    scenario = loaded.scenario
    site_id = scenario.arrivals.site or scenario.sites[0].id
    return next(site for site in scenario.sites if site.id == site_id)


def site_network(loaded, cap_kw: float | None = None):
    """The replayed site as an acnportal `ChargingNetwork`, limited to `cap_kw` in total.

    `cap_kw` None: the site's own grid limit. One EVSE per charger (the ACN's stations have one
    each; a charger with more EVSEs is refused, as ACN-Data sessions could not name them).
    """
    from acnportal import acnsim

    site = replayed_site(loaded)
    cap_kw = site.grid_limit_kw if cap_kw is None else cap_kw
    network = acnsim.ChargingNetwork()
    for spec in site.chargers:
        if spec.evses != 1:
            raise ValueError(f"{spec.id}: {spec.evses} EVSEs; acnportal stations have one")
        for charger_id in spec.charger_ids():
            max_a = spec.max_power_kw * 1000.0 / VOLTAGE_V
            network.register_evse(acnsim.EVSE(charger_id, max_rate=max_a), VOLTAGE_V, PHASE_DEG)
    network.add_constraint(
        acnsim.Current(network.station_ids), cap_kw * 1000.0 / VOLTAGE_V, name="site"
    )
    return network


def scheduler(algorithm: str):
    from acnportal import algorithms

    if algorithm == "uncontrolled":
        return algorithms.UncontrolledCharging()
    if algorithm == "edf":
        return algorithms.SortedSchedulingAlgo(algorithms.earliest_deadline_first)
    if algorithm == "llf":
        return algorithms.SortedSchedulingAlgo(algorithms.least_laxity_first)
    raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")


@dataclass
class AcnRun:
    """One acnportal replay and its figures."""

    algorithm: str
    cap_kw: float
    period_min: int
    wall_s: float
    energy_kwh: float
    peak_kw: float
    power_kw: np.ndarray  # aggregate power of each period
    delivered_kwh: dict[str, float]  # per session id
    iterations: int
    simulated_days: float
    departures_clipped_at_end: int
    warnings: dict[str, int] = field(default_factory=dict)  # by kind (numbers blanked out)
    sim: Any = None  # the acnsim.Simulator, after the run

    @property
    def sessions(self) -> int:
        return len(self.delivered_kwh)

    @property
    def periods_over_cap(self) -> int:
        return int((self.power_kw > self.cap_kw * (1 + 1e-6)).sum())

    def figures(self) -> dict:
        """The run's figures as plain JSON values."""
        return {
            "wall_s": round(self.wall_s, 3),
            "algorithm": self.algorithm,
            "cap_kw": self.cap_kw,
            "period_min": self.period_min,
            "sessions": self.sessions,
            "simulated_days": self.simulated_days,
            "iterations": self.iterations,
            "peak_kw": round(self.peak_kw, 3),
            "energy_kwh": round(self.energy_kwh, 3),
            "departures_clipped_at_end": self.departures_clipped_at_end,
            "periods_over_cap": self.periods_over_cap,
            "warnings": self.warnings,
        }


def run_acnportal(
    loaded,
    recorded: pd.DataFrame,
    algorithm: str,
    *,
    cap_kw: float | None = None,
    period_min: int = 5,
) -> AcnRun:
    """Replay `recorded` at the scenario's site in acnportal under `algorithm` and `cap_kw`
    (None: the site's grid limit; `UncontrolledCharging` ignores it, as acnportal's does).

    Timed on the wall clock around everything: network, events, simulation, analysis.
    """
    from acnportal import acnsim
    from acnportal.acnsim import analysis

    scenario = loaded.scenario
    cap_kw = replayed_site(loaded).grid_limit_kw if cap_kw is None else float(cap_kw)
    start = scenario.start_at
    period_s = 60 * period_min
    end_period = int((scenario.end_at - start).total_seconds() // period_s)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        network = site_network(loaded, cap_kw)
        max_kw = dict(
            zip(network.station_ids, network.max_pilot_signals * VOLTAGE_V / 1000, strict=True)
        )
        events, clipped = [], 0
        for row in recorded.itertuples(index=False):
            if row.station_id not in max_kw:
                raise ValueError(f"session {row.session_id}: no station {row.station_id!r}")
            arrival = int((row.arrival - start).total_seconds() // period_s)
            departure = int((row.departure - start).total_seconds() // period_s)
            if departure > end_period:  # the twin's run ends there too
                departure, clipped = end_period, clipped + 1
            battery = acnsim.Battery(row.delivered_kwh, 0, max_kw[row.station_id])
            ev = acnsim.EV(
                arrival, departure, row.delivered_kwh, row.station_id, row.session_id, battery
            )
            events.append(acnsim.PluginEvent(arrival, ev))
        sim = acnsim.Simulator(
            network,
            scheduler(algorithm),
            acnsim.EventQueue(events),
            start,
            period=period_min,
            verbose=False,
        )
        sim.run()
        energy_kwh = float(analysis.total_energy_delivered(sim))
        power_kw = np.asarray(analysis.aggregate_power(sim), dtype=float)
        wall_s = time.perf_counter() - started
    return AcnRun(
        algorithm=algorithm,
        cap_kw=cap_kw,
        period_min=period_min,
        wall_s=wall_s,
        energy_kwh=energy_kwh,
        peak_kw=float(power_kw.max()) if len(power_kw) else 0.0,
        power_kw=power_kw,
        delivered_kwh={sid: float(ev.energy_delivered) for sid, ev in sim.ev_history.items()},
        iterations=sim.iteration,
        # The run: periods 0 .. end_period - 1 (the last iteration only unplugs).
        simulated_days=min(sim.iteration, end_period) * period_min / 1440.0,
        departures_clipped_at_end=clipped,
        warnings=warning_kinds(caught),
        sim=sim,
    )


def warning_kinds(caught) -> dict[str, int]:
    """Warnings counted by kind: numbers blanked out, so one per message and not per period."""
    kinds = Counter(
        re.sub(r"\d+(\.\d+)?", "#", f"{w.category.__name__}: {w.message}")[:200] for w in caught
    )
    return dict(kinds.most_common())
