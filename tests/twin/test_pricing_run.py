"""Dynamic pricing end to end: prices published from the site's measured load, every session
billed per interval to the minor unit, and the total the driver saw on the charger (both OCPP
versions) equal to the bill."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from central_system.pricing import Money, round_half_even
from twin.runner import run_scenario
from twin.scenario import load_scenario
from twin.signals import MarginalEmissions

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def tehran(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tehran")
    asyncio.run(run_scenario(load_scenario(SCENARIOS / "tehran_pilot.toml"), out))
    return out


def _rows(out: Path, query: str) -> list[tuple]:
    with sqlite3.connect(out / "csms.sqlite") as db:
        return db.execute(query).fetchall()


def test_every_session_is_billed_to_the_minor_unit(tehran: Path):
    sessions = pd.read_parquet(tehran / "sessions.parquet")
    assert len(sessions) >= 10
    assert set(sessions["currency"]) == {"IRR"}
    lines = pd.DataFrame(
        _rows(
            tehran,
            "select session_id, price_minor_per_kwh, energy_wh, amount_minor from session_charges",
        ),
        columns=["session_id", "price", "energy_wh", "amount_minor"],
    )
    for row in lines.itertuples():  # each line: price x energy, rounded half-even once
        assert row.amount_minor == round_half_even(Decimal(row.price) * row.energy_wh / 1000)
    per_session = lines.groupby("session_id")[["energy_wh", "amount_minor"]].sum()
    by_id = sessions.set_index("session_id")
    # The lines share out exactly the metered energy, and add up exactly to the bill.
    assert (per_session["energy_wh"] == by_id.loc[per_session.index, "energy_wh"]).all()
    assert (per_session["amount_minor"] == by_id.loc[per_session.index, "cost_minor"]).all()
    assert set(per_session.index) == set(by_id.index)


def test_the_driver_sees_the_bill_on_both_protocol_versions(tehran: Path):
    sessions = pd.read_parquet(tehran / "sessions.parquet")
    assert set(sessions["protocol"]) == {"1.6", "2.0.1"}
    for row in sessions.itertuples():
        billed = Money(int(row.cost_minor), row.currency)
        assert Decimal(row.displayed_cost) == billed.major, row.transaction_id
    frames = [json.loads(line) for line in (tehran / "ocpp_frames.jsonl").read_text().splitlines()]
    sent = [json.loads(f["frame"]) for f in frames if f["dir"] == "out"]
    actions = {frame[2] for frame in sent if frame[0] == 2}
    # 2.0.1: tariff on a display message, running cost by CostUpdated; 1.6: costmsg DataTransfer
    assert {"SetDisplayMessage", "CostUpdated", "DataTransfer"} <= actions
    cost_messages = {
        frame[3]["messageId"]
        for frame in sent
        if frame[0] == 2
        and frame[2] == "DataTransfer"
        and frame[3]["vendorId"] == "org.openchargealliance.costmsg"
    }
    assert cost_messages == {"SetUserPrice", "RunningCost", "FinalCost"}


def test_prices_are_published_on_time_and_follow_the_load(tehran: Path):
    prices = _rows(
        tehran,
        "select start, published_at, price_minor_per_kwh, components, utilisation"
        " from site_prices order by start",
    )
    assert len(prices) >= 96  # one per quarter hour of the day
    for start, published_at, price, components, _ in prices:
        assert published_at == start  # at the start of its interval, never late
        parts = json.loads(components)
        assert sum(parts.values()) == price  # components add up to the price
        assert 2_000_000 <= price <= 9_000_000  # within the tariff's floor and cap
    surcharged = [row for row in prices if json.loads(row[3])["surcharge"] > 0]
    assert surcharged, "the 40 kW site never ran above 70 % utilisation"
    assert all(row[4] > 0.7 for row in surcharged)
    wholesale = {json.loads(row[3])["wholesale"] for row in prices}
    assert len(wholesale) > 10  # the day-ahead price moves hour by hour


def test_the_tight_site_stays_within_its_limit(tehran: Path):
    power = pd.read_parquet(tehran / "site_power.parquet")
    assert power["peak_power_kw"].max() <= 40.0 + 1e-6
    assert power["peak_power_kw"].max() >= 39.0  # and the limit actually binds


def _variant(tmp_path: Path, name: str, **replace: str) -> Path:
    """dubai_solar with some text replaced, written where its data paths still resolve."""
    text = (SCENARIOS / "dubai_solar.toml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    text = text.replace('"data/', f'"{SCENARIOS}/data/')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_renewable_following_charges_when_the_grid_is_clean(tmp_path: Path):
    """dubai_solar under renewable_following and uncontrolled: following the PV and the grid's
    marginal emissions lowers the carbon intensity of the energy delivered, at a modest cost in
    energy (drivers who leave soon are still served first)."""
    moer = MarginalEmissions.load(
        SCENARIOS / "data" / "caiso_pge_moer_2019-05.csv.gz", scenario_zone="Asia/Dubai"
    )
    intensity, energy = {}, {}
    for policy in ("renewable_following", "uncontrolled"):
        path = _variant(
            tmp_path, policy, **{'policy = "renewable_following"': f'policy = "{policy}"'}
        )
        out = tmp_path / policy
        summary = asyncio.run(run_scenario(load_scenario(path), out))
        assert summary.peak_kw["dubai-solar"] <= 80.0 + 1e-6
        assert summary.billed["AED"].amount_minor > 0
        # Sessions under the sun earn renewable rewards and Green Credits, all reconciled.
        assert summary.tokens.reconciled, summary.tokens.differences
        assert summary.tokens.green_credit_raw > 0 and summary.tokens.rewards_raw > 0
        power = pd.read_parquet(out / "site_power.parquet")
        g_per_wh = [moer.at(t.to_pydatetime()) for t in power["interval_start"]]  # kg/kWh
        intensity[policy] = (power["energy_wh"] * g_per_wh).sum() / power["energy_wh"].sum()
        energy[policy] = summary.energy_kwh
    assert intensity["renewable_following"] < 0.8 * intensity["uncontrolled"], intensity
    assert energy["renewable_following"] > 0.8 * energy["uncontrolled"], energy
