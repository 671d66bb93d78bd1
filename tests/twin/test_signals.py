"""Grid and solar signals: known values from the shipped files, the year mapping, clear-sky PV."""

from __future__ import annotations

import doctest
import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

import twin.signals.grid
import twin.signals.solar
from central_system.pricing import PricingEngine, TariffConfig
from twin.signals import (
    CAISO_PGE_MOER_CSV,
    NL_DAY_AHEAD_CSV,
    DayAheadPrices,
    MarginalEmissions,
    PvArray,
    SignalOutOfRange,
    wall_clock_in_year,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
TEHRAN = ZoneInfo("Asia/Tehran")

# as recorded in scenarios/data/README.md
SHA256 = {
    NL_DAY_AHEAD_CSV: "030236613c59a9b6492caffe32b149313e0f740a5c430b1e230408d50ba42fdf",
    CAISO_PGE_MOER_CSV: "ad055f5932e392866a91172390646fce4b538d499cb7bf9918d983f6c477b6d3",
}


@pytest.fixture(scope="module")
def prices() -> DayAheadPrices:
    return DayAheadPrices.load()


@pytest.fixture(scope="module")
def moer() -> MarginalEmissions:
    return MarginalEmissions.load()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("path", sorted(SHA256))
def test_shipped_files_are_the_attributed_copies(path):
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[path]


def test_the_module_examples_run():
    assert doctest.testmod(twin.signals.grid).failed == 0
    assert doctest.testmod(twin.signals.solar).failed == 0


# ---------------------------------------------------------------------------------------------
# Day-ahead prices (file rows quoted in the comments: UTC hour start, local, EUR/MWh)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2019, 1, 1, 0, 0), "64.98"),  # 2019-01-01 00:00, 01:00 CET, 64.98: first row
        (utc(2019, 1, 1, 0, 59, 59), "64.98"),
        (utc(2019, 1, 1, 1, 0), "60.27"),  # 2019-01-01 01:00, 60.27
        (utc(2019, 6, 2, 12, 0), "-9.02"),  # 2019-06-02 12:00, 14:00 CEST, -9.02 (negative)
        (utc(2019, 3, 31, 1, 0), "40.03"),  # 01:00 UTC = 03:00 CEST, the first summer hour
        (utc(2019, 10, 27, 0, 0), "25.0"),  # 02:00 CEST ...
        (utc(2019, 10, 27, 1, 0), "25.7"),  # ... and 02:00 CET: the repeated hour, two prices
        (utc(2019, 12, 31, 23, 0), "41.88"),  # last row: 2020-01-01 00:00 local
    ],
)
def test_day_ahead_known_values(prices, moment, expected):
    assert prices.at(moment) == Decimal(expected)
    assert isinstance(prices.at(moment), Decimal)
    assert prices.currency == "EUR"


def test_day_ahead_year_mapping_by_wall_clock(prices):
    # 2024-06-02 14:00 Amsterdam -> 2019-06-02 14:00 CEST = 12:00 UTC -> -9.02
    assert prices.at(datetime(2024, 6, 2, 14, 0, tzinfo=AMSTERDAM)) == Decimal("-9.02")
    # 2024-10-27 is also a fall-back day: each 02:30 keeps its fold
    assert prices.at(utc(2024, 10, 27, 0, 30)) == Decimal("25.0")  # 02:30 CEST
    assert prices.at(utc(2024, 10, 27, 1, 30)) == Decimal("25.7")  # 02:30 CET
    # 29 February -> 28 February 2019: 12:00 CET = 11:00 UTC -> 38.0
    assert prices.at(datetime(2024, 2, 29, 12, 0, tzinfo=AMSTERDAM)) == Decimal("38.0")
    # 1 January 00:30 local precedes the file's first UTC hour: the next New Year's 00:00 row
    assert prices.at(datetime(2024, 1, 1, 0, 30, tzinfo=AMSTERDAM)) == Decimal("41.88")
    # a site elsewhere can line up its local hours with the Dutch ones
    tehran = DayAheadPrices.load(scenario_zone="Asia/Tehran")
    assert tehran.at(datetime(2024, 6, 2, 14, 0, tzinfo=TEHRAN)) == Decimal("-9.02")


def test_wall_clock_mapping_rules():
    # a wall-clock time inside the data year's spring-forward gap reads with the old offset
    skipped = wall_clock_in_year(
        datetime(2021, 3, 31, 2, 30, tzinfo=AMSTERDAM), 2019, AMSTERDAM, AMSTERDAM
    )
    # 2021-03-31 02:30 CEST exists; 2019-03-31 02:30 does not: read as CET, 01:30 UTC
    assert skipped == utc(2019, 3, 31, 1, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        wall_clock_in_year(datetime(2024, 1, 1), 2019, AMSTERDAM, AMSTERDAM)


def test_day_ahead_series(prices):
    series = prices.series(utc(2019, 1, 1, 0, 0), utc(2019, 1, 1, 3, 0), 1800)
    assert series.name == "price_eur_per_mwh"
    assert list(series) == [64.98, 64.98, 60.27, 60.27, 49.97, 49.97]
    assert series.index[0] == pd.Timestamp("2019-01-01 00:00", tz="UTC")
    assert str(series.index.tz) == "UTC"
    local = prices.series(
        datetime(2024, 1, 1, 1, 0, tzinfo=AMSTERDAM),
        datetime(2024, 1, 1, 1, 45, tzinfo=AMSTERDAM),
        900,
    )
    assert list(local) == [64.98] * 3  # 01:00..01:30 local 2024 -> the first 2019 row
    assert prices.series(utc(2019, 1, 1), utc(2019, 1, 1), 60).empty


# ---------------------------------------------------------------------------------------------
# Marginal emissions (kg CO2/kWh)


def test_moer_known_values(moer):
    assert moer.at(utc(2019, 4, 30, 0, 0)) == pytest.approx(0.192101497978084, abs=0)
    assert moer.at(utc(2019, 5, 15, 12, 0)) == pytest.approx(0.225091552017526, abs=0)
    assert moer.at(utc(2019, 5, 15, 12, 4, 59)) == pytest.approx(0.225091552017526, abs=0)
    assert moer.at(utc(2019, 5, 15, 12, 5)) == pytest.approx(0.226095526087099, abs=0)
    assert moer.at(utc(2019, 6, 1, 23, 55)) == pytest.approx(0.0976976419439906, abs=0)
    forecast = moer.forecast(utc(2019, 4, 30, 0, 2))
    assert forecast.shape == (36,)
    assert forecast[0] == pytest.approx(0.17734976818631695, abs=0)  # f1 of the first row
    assert forecast[-1] == pytest.approx(0.327858279127001, abs=0)  # f36


def test_moer_year_mapping_and_coverage(moer):
    # 2021-05-15 05:00 PDT -> 2019-05-15 05:00 PDT = 12:00 UTC
    assert moer.at(datetime(2021, 5, 15, 5, 0, tzinfo=LOS_ANGELES)) == pytest.approx(
        0.225091552017526, abs=0
    )
    with pytest.raises(SignalOutOfRange, match="outside the data"):
        moer.at(datetime(2021, 7, 15, 12, 0, tzinfo=LOS_ANGELES))
    with pytest.raises(SignalOutOfRange):
        moer.series(utc(2019, 6, 1, 23, 50), utc(2019, 6, 2, 0, 10), 300)


def test_moer_series_matches_at(moer):
    start = datetime(2023, 5, 20, 0, 0, tzinfo=LOS_ANGELES)
    series = moer.series(start, start + timedelta(hours=6), 900)
    assert len(series) == 24
    assert series.name == "moer_kg_per_kwh"
    for moment, value in series.items():
        assert value == moer.at(moment.to_pydatetime())


# ---------------------------------------------------------------------------------------------
# PV


TEHRAN_ARRAY = PvArray(35.70, 51.40, kwp=100.0, tilt=30.0, azimuth=180.0, altitude_m=1200.0)


def test_pv_zero_at_night_positive_at_noon_with_a_plausible_peak():
    day = TEHRAN_ARRAY.series(
        datetime(2024, 6, 21, 0, 0, tzinfo=TEHRAN), datetime(2024, 6, 22, 0, 0, tzinfo=TEHRAN), 300
    )
    assert len(day) == 288
    assert day.name == "power_w"
    local_hours = day.index.tz_convert(TEHRAN).hour
    assert (day[(local_hours < 4) | (local_hours >= 21)] == 0).all()
    assert TEHRAN_ARRAY.at(datetime(2024, 6, 21, 0, 30, tzinfo=TEHRAN)) == 0.0
    noon = TEHRAN_ARRAY.at(datetime(2024, 6, 21, 12, 5, tzinfo=TEHRAN))  # solar noon ~12:05
    assert noon > 0
    # a clear midsummer noon gives most of the inverter's 83.3 kW, never more, never > kwp
    assert 0.6 * 100_000 < day.max() <= TEHRAN_ARRAY.ac_nameplate_w <= 100_000
    assert abs(day.idxmax().tz_convert(TEHRAN).hour - 12) <= 1
    # a clear-sky June day: 5..9 kWh per kWp
    energy_kwh = day.sum() * 300 / 3_600_000
    assert 500 < energy_kwh < 900


def test_pv_is_vectorised_deterministic_and_consistent_with_at():
    start = datetime(2024, 3, 20, 6, 0, tzinfo=UTC)
    series = TEHRAN_ARRAY.series(start, start + timedelta(hours=2), 1800)
    again = TEHRAN_ARRAY.series(start, start + timedelta(hours=2), 1800)
    assert series.equals(again)
    assert [TEHRAN_ARRAY.at(t.to_pydatetime()) for t in series.index] == pytest.approx(
        list(series), rel=1e-9
    )


def test_pv_southern_hemisphere_faces_north_and_winter_is_lower():
    sydney = PvArray(-33.87, 151.21, kwp=10.0, tilt=30.0, azimuth=0.0)
    jan = sydney.series(utc(2024, 1, 15, 0), utc(2024, 1, 16, 0), 600)
    jul = sydney.series(utc(2024, 7, 15, 0), utc(2024, 7, 16, 0), 600)
    assert 0 < jul.max() <= jan.max() <= sydney.ac_nameplate_w
    assert np.all(jan.to_numpy() >= 0)


def test_pv_refuses_nonsense():
    with pytest.raises(ValueError, match="kwp"):
        PvArray(0.0, 0.0, kwp=0.0, tilt=10.0, azimuth=180.0)
    with pytest.raises(ValueError, match="tilt"):
        PvArray(0.0, 0.0, kwp=1.0, tilt=100.0, azimuth=180.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        TEHRAN_ARRAY.at(datetime(2024, 6, 21, 12, 0))


# ---------------------------------------------------------------------------------------------
# The prices as a wholesale signal for the CSMS tariff


def test_day_ahead_prices_drive_the_tariffs_wholesale_component(prices):
    tariff = TariffConfig.model_validate(
        {
            "currency": "EUR",
            "time_zone": "Europe/Amsterdam",
            "bands": [{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 20}],
            "wholesale_share": "1",
        }
    )
    engine = PricingEngine(tariff, wholesale=prices)
    # 64.98 EUR/MWh = 6.498 cents/kWh -> 6; -9.02 -> -0.902 -> -1
    assert engine.components_at(utc(2019, 1, 1, 0, 30))["wholesale"] == 6
    assert engine.price_at(utc(2019, 6, 2, 12, 30)) == 20 - 1
    intervals = engine.price_intervals(utc(2019, 1, 1, 0, 0), utc(2019, 1, 1, 2, 0), 3600)
    # 60.27 -> 6.027 -> 6
    assert [i.price_minor_per_kwh for i in intervals] == [26, 26]
