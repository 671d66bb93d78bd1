"""Side by side with acnportal, the Caltech ACN's published simulator: the same recorded
arrivals, the same site cap, EDF and LLF.

evch's whole stack (the CSMS's site planner, OCPP TxProfiles to emulated 1.6J and 2.0.1
chargers, the twin's EVs) and acnportal's `SortedSchedulingAlgo` replay the same Caltech ACN
sessions under a cap of half acnportal's uncontrolled peak. For each policy: delivered energy
within 2 % of each other, and each keeps the site within the cap (evch's measured site power
never above it, as in test_load_management.py; acnportal's aggregate power never above it).

acnportal comes with the `bench` extra: `pip install -e ".[dev,bench]"`. The acnportal side
(network, sessions, cap) is `benchmarks/acn_baseline.py`, shared with benchmarks/twin_week.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest
from acnportal.acnsim import analysis

from benchmarks.acn_baseline import (
    recorded_sessions,
    replayed_site,
    run_acnportal,
    scenario_variant,
)
from twin.runner import run_scenario
from twin.scenario import load_scenario

CALTECH_WEEK = Path(__file__).resolve().parents[2] / "scenarios" / "caltech_week.toml"
DAYS = 3  # Mon 2019-06-10 .. Wed 06-12: 131 sessions, with the week's peak
CAP_SHARE = 0.5  # the cap, as a share of acnportal's uncontrolled peak over those days
ENERGY_TOLERANCE = 0.02  # the "delivered energy within 2 %"


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> tuple[Path, pd.DataFrame, float]:
    """The replayed days, their recorded sessions and a cap that binds."""
    folder = tmp_path_factory.mktemp("acnportal-parity")
    loaded = load_scenario(scenario_variant(CALTECH_WEEK, folder, name="caltech-days", days=DAYS))
    recorded = recorded_sessions(loaded)
    uncontrolled = run_acnportal(loaded, recorded, "uncontrolled")
    return folder, recorded, round(CAP_SHARE * uncontrolled.peak_kw, 1)


@pytest.mark.parametrize("policy", ["edf", "llf"])
def test_same_energy_as_acnportal_within_the_same_cap(days, policy: str):
    folder, recorded, cap_kw = days
    loaded = load_scenario(
        scenario_variant(CALTECH_WEEK, folder, policy=policy, grid_limit_kw=cap_kw, days=DAYS)
    )
    site_id = replayed_site(loaded).id
    acn = run_acnportal(loaded, recorded, policy, cap_kw=cap_kw)
    out = folder / policy
    summary = asyncio.run(run_scenario(loaded, out))
    power = pd.read_parquet(out / "site_power.parquet")
    sessions = pd.read_parquet(out / "sessions.parquet")

    # The same arrivals on both sides, every one of them charged.
    assert summary.sessions == acn.sessions == len(recorded) and not summary.refused
    assert (
        set(sessions["source_session_id"]) == set(recorded["session_id"]) == set(acn.delivered_kwh)
    )

    # evch: the measured site power never goes above the cap, and reaches it (the cap binds).
    assert power["peak_power_kw"].max() <= cap_kw + 1e-6, policy
    assert summary.peak_kw[site_id] <= cap_kw + 1e-6
    assert power["peak_power_kw"].max() >= 0.99 * cap_kw
    # acnportal: its own aggregate power (within its 1e-5 A feasibility tolerance).
    acn_power_kw = analysis.aggregate_power(acn.sim)
    assert acn_power_kw.max() <= cap_kw + 1e-5
    assert acn_power_kw.max() >= 0.99 * cap_kw

    # Delivered energy within 2 % of acnportal's.
    evch_kwh = float(sessions["energy_wh"].sum()) / 1000.0
    assert evch_kwh == pytest.approx(summary.energy_kwh)
    assert abs(evch_kwh - acn.energy_kwh) <= ENERGY_TOLERANCE * acn.energy_kwh, (
        f"{policy} under {cap_kw} kW: evch {evch_kwh:.1f} kWh, acnportal {acn.energy_kwh:.1f} kWh"
    )
