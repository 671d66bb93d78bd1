"""Arrivals (generated and replayed from ACN-Data) and the EV catalogue."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from twin.arrivals import (
    ACN_CALTECH_WEEK_CSV,
    SKIP_BAD_REQUESTED,
    SKIP_BAD_TIMES,
    SKIP_ZERO_ENERGY,
    Arrival,
    fit_need_to_battery,
    generated_arrivals,
    replayed_arrivals,
)
from twin.ev_catalogue import EV_MODELS_JSON, EvModel, load_ev_models, model_shares

LA = ZoneInfo("America/Los_Angeles")
DRIVERS = ["TAG-1", "TAG-2", "TAG-3"]
BIG = {"Big": EvModel("Big", battery_kwh=1000.0, max_ac_kw=11, max_dc_kw=150, registrations=1)}


def generate(seed: int = 7, **overrides: Any) -> list[Arrival]:
    params: dict[str, Any] = {
        "site_ids": ["north", "south"],
        "start": datetime(2024, 6, 3, tzinfo=LA),
        "end": datetime(2024, 6, 10, tzinfo=LA),
        "zone": LA,
        "rate_per_hour": [0.0] * 7 + [2.0] * 4 + [0.5] * 8 + [0.0] * 5,
        "stay_h": (4.0, 2.0, 0.5, 12.0),
        "energy_kwh": (15.0, 8.0, 1.0, None),
        "population": load_ev_models(),
        "shares": None,
        "efficiency": 0.9,
        "arrival_soc": (0.1, 0.6),
        "drivers": DRIVERS,
        "unknown_token_share": 0.1,
        "leave_when_full": False,
        "rng": np.random.default_rng(seed),
    }
    params.update(overrides)
    return generated_arrivals(**params)


def replay(seed: int = 7, **overrides: Any):
    params: dict[str, Any] = {
        "path": ACN_CALTECH_WEEK_CSV,
        "site_id": "caltech",
        "first_day": date(2019, 6, 10),
        "days": 7,
        "zone": LA,
        "energy": "delivered",
        "population": load_ev_models(),
        "shares": None,
        "efficiency": 0.9,
        "arrival_soc": (0.1, 0.6),
        "drivers": DRIVERS,
        "leave_when_full": True,
        "rng": np.random.default_rng(seed),
    }
    params.update(overrides)
    return replayed_arrivals(**params)


def pandas_week(first: date, days: int) -> pd.DataFrame:
    """The shipped week's sessions in a local-day window, counted independently of twin code."""
    frame = pd.read_csv(ACN_CALTECH_WEEK_CSV)
    frame["arrival_utc"] = pd.to_datetime(frame["arrival"], utc=True)
    frame["departure_utc"] = pd.to_datetime(frame["departure"], utc=True)
    local = frame["arrival_utc"].dt.tz_convert("America/Los_Angeles").dt.date
    return frame[(local >= first) & (local < first + timedelta(days=days))]


# --- determinism and ordering ------------------------------------------------------------


def test_generated_same_seed_same_list_other_seed_other_list() -> None:
    first, again, other = generate(seed=3), generate(seed=3), generate(seed=4)
    assert len(first) > 50
    assert first == again
    assert first != other


def test_replayed_same_seed_same_list_other_seed_other_draws() -> None:
    first, again, other = replay(seed=3), replay(seed=3), replay(seed=4)
    assert first == again
    assert [a.arrival for a in first.arrivals] == [a.arrival for a in other.arrivals]
    assert [(a.ev_model, a.id_token) for a in first.arrivals] != [
        (a.ev_model, a.id_token) for a in other.arrivals
    ]


def test_ids_follow_arrival_order_and_times_are_utc() -> None:
    arrivals = generate()
    assert [a.arrival_id for a in arrivals] == [f"A{n:04d}" for n in range(1, len(arrivals) + 1)]
    assert [a.arrival for a in arrivals] == sorted(a.arrival for a in arrivals)
    assert all(a.arrival.utcoffset() == timedelta(0) for a in arrivals)
    assert all(a.departure > a.arrival for a in arrivals)
    assert {a.site_id for a in arrivals} == {"north", "south"}
    assert all(a.station_id is None and a.source_session_id is None for a in arrivals)
    assert all(a.requested_wh == a.need_wh for a in arrivals)


def test_arrival_rejects_departure_before_arrival() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="departure must be after arrival"):
        Arrival("A0001", "s", moment, moment, 1, 1, None, None, "T", "M", 0.5, False)


# --- generated: hourly profile --------------------------------------------------------------


def test_zero_rate_hours_get_no_arrivals_and_counts_follow_the_profile() -> None:
    rates = [0.0] * 24
    rates[8], rates[17] = 3.0, 1.0
    start = datetime(2024, 3, 4, tzinfo=LA)  # spans the 2024-03-10 DST change
    arrivals = generate(
        start=start, end=start + timedelta(days=28), rate_per_hour=rates, site_ids=["a"]
    )
    hours = Counter(a.arrival.astimezone(LA).hour for a in arrivals)
    assert set(hours) == {8, 17}
    for hour, expected in ((8, 28 * 3.0), (17, 28 * 1.0)):
        assert abs(hours[hour] - expected) < 5 * math.sqrt(expected)


def test_mean_count_over_a_long_horizon() -> None:
    rates = [0.25 + 0.1 * (h % 5) for h in range(24)]
    start = datetime(2023, 1, 1, tzinfo=LA)
    end = datetime(2024, 1, 1, tzinfo=LA)
    arrivals = generate(start=start, end=end, rate_per_hour=rates, site_ids=["a", "b"])
    expected = 2 * 365 * sum(rates)
    assert abs(len(arrivals) - expected) < 4 * math.sqrt(expected)
    assert all(start <= a.arrival < end for a in arrivals)


def test_dst_repeated_hour_counts_twice_and_skipped_hour_gets_none() -> None:
    rates = [0.0] * 24
    rates[1] = rates[2] = 40.0

    def count(day: date) -> Counter[int]:
        start = datetime(day.year, day.month, day.day, tzinfo=LA)
        arrivals = generate(start=start, end=start + timedelta(days=1), rate_per_hour=rates)
        return Counter(a.arrival.astimezone(LA).hour for a in arrivals)

    fall_back = count(date(2024, 11, 3))  # 01:00-02:00 happens twice
    spring_forward = count(date(2024, 3, 10))  # 02:00-03:00 does not exist
    assert spring_forward[2] == 0
    assert 80 - 5 * math.sqrt(80) < spring_forward[1] < 80 + 5 * math.sqrt(80)
    assert 160 - 5 * math.sqrt(160) < fall_back[1] < 160 + 5 * math.sqrt(160)
    assert 80 - 5 * math.sqrt(80) < fall_back[2] < 80 + 5 * math.sqrt(80)


def test_bad_generation_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="24"):
        generate(rate_per_hour=[1.0] * 23)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(start=datetime(2024, 6, 3))
    with pytest.raises(ValueError, match="stay_h"):
        generate(stay_h=(4.0, 1.0, 0.0, None))
    with pytest.raises(ValueError, match="drivers"):
        generate(drivers=[])


# --- generated: stays, energies, SoC, tokens -------------------------------------------------


def test_stay_and_energy_are_clipped_to_their_bounds() -> None:
    arrivals = generate(
        stay_h=(4.0, 6.0, 1.0, 8.0), energy_kwh=(12.0, 15.0, 2.0, 20.0), population=BIG
    )
    stays_s = [(a.departure - a.arrival).total_seconds() for a in arrivals]
    needs = [a.need_wh for a in arrivals]
    assert min(stays_s) == 3600 and max(stays_s) == 8 * 3600  # wide sd: both bounds are hit
    assert min(needs) == 2000 and max(needs) == 20000
    assert all(3600 <= s <= 8 * 3600 for s in stays_s)


def test_unclipped_lognormal_has_the_requested_mean() -> None:
    arrivals = generate(
        end=datetime(2024, 9, 3, tzinfo=LA),
        stay_h=(4.0, 2.0, 0.001, None),
        energy_kwh=(15.0, 8.0, 0.0, None),
        population=BIG,
    )
    stays_h = np.array([(a.departure - a.arrival).total_seconds() / 3600 for a in arrivals])
    needs_kwh = np.array([a.need_wh / 1000 for a in arrivals])
    assert len(arrivals) > 1000
    assert abs(stays_h.mean() - 4.0) < 0.2 and abs(stays_h.std() - 2.0) < 0.3
    assert abs(needs_kwh.mean() - 15.0) < 0.8 and abs(needs_kwh.std() - 8.0) < 1.2


def test_soc_rule_keeps_the_need_within_the_battery() -> None:
    small = {"Small": EvModel("Small", battery_kwh=10.0, max_ac_kw=7, max_dc_kw=0, registrations=1)}
    efficiency = 0.9
    arrivals = generate(
        population=small,
        efficiency=efficiency,
        arrival_soc=(0.2, 0.9),
        energy_kwh=(8.0, 6.0, 1.0, 30.0),
    )
    for a in arrivals:
        assert a.arrival_soc * 10000 + a.need_wh * efficiency <= 10000 + 1e-6
        assert 0.0 <= a.arrival_soc <= 0.9
    clipped = [a for a in arrivals if a.need_wh == math.floor(10000 / efficiency)]
    assert clipped and all(a.arrival_soc == 0.0 for a in clipped)
    assert any(a.arrival_soc > 0.2 for a in arrivals)  # small needs keep their drawn SoC


def test_fit_need_to_battery() -> None:
    assert fit_need_to_battery(5000, 0.8, 10.0, 1.0) == (5000, 0.5)
    assert fit_need_to_battery(2000, 0.3, 10.0, 1.0) == (2000, 0.3)
    assert fit_need_to_battery(12000, 0.3, 10.0, 0.9) == (11111, 0.0)


def test_unknown_token_share_is_honoured() -> None:
    none = generate(unknown_token_share=0.0)
    every = generate(unknown_token_share=1.0, drivers=[])
    some = generate(unknown_token_share=0.3, end=datetime(2024, 8, 3, tzinfo=LA))
    assert none and {a.id_token for a in none} == set(DRIVERS)
    assert every and all(re.fullmatch(r"UNKNOWN-[0-9A-F]{4}", a.id_token) for a in every)
    share = sum(a.id_token.startswith("UNKNOWN-") for a in some) / len(some)
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / len(some))
    assert {a.id_token for a in some if not a.id_token.startswith("UNKNOWN-")} == set(DRIVERS)


def test_model_shares_drive_the_models_drawn() -> None:
    population = load_ev_models()
    only = generate(shares={"Nissan Leaf": 1.0})
    assert only and {a.ev_model for a in only} == {"Nissan Leaf"}
    split = generate(
        shares={"Nissan Leaf": 3.0, "Renault Zoe": 1.0}, end=datetime(2024, 8, 3, tzinfo=LA)
    )
    leaf = sum(a.ev_model == "Nissan Leaf" for a in split) / len(split)
    assert abs(leaf - 0.75) < 4 * math.sqrt(0.75 * 0.25 / len(split))
    assert {a.ev_model for a in generate()} <= set(population)


# --- replay of the shipped week -------------------------------------------------------------


def test_replay_of_the_shipped_week_matches_the_file() -> None:
    expected = pandas_week(date(2019, 6, 10), 7)
    result = replay()
    assert len(expected) == 239
    assert len(result.arrivals) == len(expected)
    assert result.skipped == {SKIP_BAD_TIMES: 0, SKIP_ZERO_ENERGY: 0, SKIP_BAD_REQUESTED: 0}
    by_session = {a.source_session_id: a for a in result.arrivals}
    assert len(by_session) == len(expected)
    for row in expected.to_dict("records"):
        a = by_session[row["session_id"]]
        assert a.arrival == row["arrival_utc"].to_pydatetime()
        assert a.departure == row["departure_utc"].to_pydatetime()
        assert a.arrival.tzinfo is UTC
        assert a.station_id == row["station_id"]
        assert a.requested_wh == round(row["requested_energy (kWh)"] * 1000)
        # the need is the delivered energy, lowered only when it does not fit the car
        assert a.need_wh <= round(row["delivered_energy (kWh)"] * 1000)
    first = result.arrivals[0]
    assert first.arrival == datetime(2019, 6, 10, 13, 4, 33, tzinfo=UTC)  # 06:04:33-07:00
    assert (first.need_wh, first.requested_wh, first.station_id) == (3868, 8000, "CA-501")
    assert all(a.site_id == "caltech" and a.leave_when_full for a in result.arrivals)
    assert {a.id_token for a in result.arrivals} == set(DRIVERS)


def test_replay_energy_column_and_window() -> None:
    delivered = replay(population=BIG).arrivals
    requested = replay(population=BIG, energy="requested").arrivals
    week = pandas_week(date(2019, 6, 10), 7).set_index("session_id")
    for d, r in zip(delivered, requested, strict=True):
        row = week.loc[d.source_session_id]
        assert d.need_wh == round(row["delivered_energy (kWh)"] * 1000)
        assert r.need_wh == round(row["requested_energy (kWh)"] * 1000) == r.requested_wh
    assert sum(r.need_wh for r in requested) > 1.5 * sum(d.need_wh for d in delivered)
    weekend = replay(first_day=date(2019, 6, 15), days=2).arrivals
    assert len(weekend) == len(pandas_week(date(2019, 6, 15), 2)) == 20


def _write_acn(path: Path, rows: list[str], header: str | None = None) -> None:
    header = header or (
        "arrival,departure,requested_energy (kWh),delivered_energy (kWh),station_id,"
        "session_id,estimated_departure,claimed"
    )
    text = "\n".join([header, *rows]) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


ROWS = [
    "2019-06-10 08:00:00-07:00,2019-06-10 12:00:00-07:00,10.0,5.5,CA-1,ok-1,,True",
    "2019-06-10 09:00:00-07:00,2019-06-10 09:00:00-07:00,10.0,5.0,CA-2,same-time,,True",
    "2019-06-10 10:00:00-07:00,2019-06-10 08:00:00-07:00,10.0,5.0,CA-3,backwards,,True",
    "2019-06-10 11:00:00-07:00,2019-06-10 13:00:00-07:00,10.0,0.0,CA-4,zero,,True",
    "2019-06-10 11:30:00-07:00,2019-06-10 13:00:00-07:00,10.0,,CA-4,empty,,True",
    "not a time,2019-06-10 13:00:00-07:00,10.0,5.0,CA-5,garbled,,True",
    "2019-06-10 12:00:00,2019-06-10 13:00:00,10.0,5.0,CA-6,naive,,True",
    "2019-06-11 23:30:00-07:00,2019-06-12 01:00:00-07:00,7.0,3.25,CA-7,ok-2,,False",
    "2019-06-12 00:30:00-07:00,2019-06-12 02:00:00-07:00,10.0,0.0,CA-8,out-of-window,,True",
]


@pytest.mark.parametrize("name", ["sessions.csv", "sessions.csv.gz"])
def test_replay_skips_and_counts_bad_rows(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    _write_acn(path, ROWS)
    result = replay(path=path, first_day=date(2019, 6, 10), days=2)
    assert [a.source_session_id for a in result.arrivals] == ["ok-1", "ok-2"]
    assert result.skipped == {SKIP_BAD_TIMES: 4, SKIP_ZERO_ENERGY: 2, SKIP_BAD_REQUESTED: 0}
    late = result.arrivals[1]
    assert late.arrival == datetime(2019, 6, 12, 6, 30, tzinfo=UTC)  # local 06-11, UTC 06-12
    assert (late.need_wh, late.requested_wh, late.station_id) == (3250, 7000, "CA-7")


def test_replay_missing_column_names_column_and_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    _write_acn(
        path,
        ["2019-06-10 08:00:00-07:00,2019-06-10 12:00:00-07:00,10.0,CA-1,x,,True"],
        header="arrival,departure,requested_energy (kWh),station_id,session_id,"
        "estimated_departure,claimed",
    )
    with pytest.raises(ValueError, match=r"broken\.csv.*delivered_energy \(kWh\)"):
        replay(path=path)


# --- the EV catalogue -----------------------------------------------------------------------


def test_shipped_catalogue_loads() -> None:
    models = load_ev_models(EV_MODELS_JSON)
    assert len(models) == 13
    assert models["Tesla Model 3"] == EvModel("Tesla Model 3", 57.5, 11.0, 170.0, 45545)
    assert all(name == model.name for name, model in models.items())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "battery_capacity"}, "'Car X' lacks field 'battery_capacity'"),
        ({"battery_capacity": -1}, "'Car X' field 'battery_capacity'"),
        ({"max_ac_charge_power": "11"}, "'Car X' field 'max_ac_charge_power'"),
        ({"number_of_registrations": 1.5}, "'Car X' field 'number_of_registrations'"),
    ],
)
def test_catalogue_errors_name_model_and_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    entry: dict[str, Any] = {
        "number_of_registrations": 10,
        "battery_capacity": 50,
        "max_ac_charge_power": 11,
        "max_dc_charge_power": 100,
    }
    if "drop" in change:
        del entry[change.pop("drop")]
    entry.update(change)
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"Car X": entry}))
    with pytest.raises(ValueError, match=re.escape(message)):
        load_ev_models(path)


def test_model_shares_normalise() -> None:
    models = load_ev_models()
    by_registrations = model_shares(models, None)
    assert list(by_registrations) == sorted(models)
    assert math.isclose(sum(by_registrations.values()), 1.0)
    total = sum(m.registrations for m in models.values())
    assert math.isclose(by_registrations["Tesla Model 3"], 45545 / total)
    given = model_shares(models, {"Renault Zoe": 1.0, "Nissan Leaf": 3.0})
    assert given == {"Nissan Leaf": 0.75, "Renault Zoe": 0.25}
    with pytest.raises(ValueError, match="Flying Car"):
        model_shares(models, {"Flying Car": 1.0})
    with pytest.raises(ValueError, match="sum to zero"):
        model_shares(models, {"Nissan Leaf": 0.0})
    with pytest.raises(ValueError, match="non-negative"):
        model_shares(models, {"Nissan Leaf": -1.0})


@pytest.mark.parametrize("build", [replay, generate])
def test_a_driver_is_never_in_two_places_at_once(build) -> None:
    drivers = [f"D{n}" for n in range(60)]
    result = build(drivers=drivers)
    arrivals = result if isinstance(result, list) else result.arrivals
    present: dict[str, datetime] = {}
    for arrival in arrivals:
        if arrival.id_token in drivers:
            assert present.get(arrival.id_token, arrival.arrival) <= arrival.arrival, arrival
            present[arrival.id_token] = arrival.departure
    assert len({a.id_token for a in arrivals}) > 20  # still drawn from the whole list
