"""The EV battery model: two-stage curve, efficiency, and the need it stops at."""

from __future__ import annotations

import pytest

from twin.ev import ChargingCurve, Ev
from twin.ev_catalogue import EvModel

MODEL = EvModel("Test EV", battery_kwh=50.0, max_ac_kw=11.0, max_dc_kw=100.0, registrations=1)


def ev(soc: float = 0.2, need_wh: float = 10_000.0, efficiency: float = 0.9) -> Ev:
    return Ev(MODEL, arrival_soc=soc, need_wh=need_wh, efficiency=efficiency, curve=ChargingCurve())


def test_constant_current_below_the_taper_then_linear_to_the_floor():
    curve = ChargingCurve(taper_soc=0.8, taper_min_fraction=0.1)
    assert curve.fraction(0.5) == 1.0
    assert curve.fraction(0.9) == pytest.approx(0.5)
    assert curve.fraction(0.99) == pytest.approx(0.1)  # the floor, not 0.05
    assert curve.fraction(1.0) == 0.0


def test_draw_is_the_lowest_of_offer_ev_rating_and_curve():
    car = ev(soc=0.2)
    assert car.draw_w(22_000, "AC") == 11_000  # the onboard charger limits
    assert car.draw_w(7_000, "AC") == 7_000  # the charger limits
    assert car.draw_w(150_000, "DC") == 100_000
    tapering = ev(soc=0.9, need_wh=2_000)
    assert tapering.draw_w(150_000, "DC") == pytest.approx(50_000)


def test_battery_gains_metered_energy_times_efficiency():
    car = ev(soc=0.2, efficiency=0.9)
    car.advance(10_000, 1800)  # 10 kW for half an hour
    assert car.metered_wh == pytest.approx(5_000)
    assert car.gained_wh == pytest.approx(4_500)
    assert car.soc == pytest.approx(0.2 + 4_500 / 50_000)


def test_stops_at_the_need_and_says_when():
    car = ev(soc=0.2, need_wh=3_000)
    seconds = car.seconds_to_satisfied(6_000)
    assert seconds == pytest.approx(1800)
    car.advance(6_000, seconds)
    assert car.satisfied
    assert car.draw_w(22_000, "AC") == 0.0


def test_a_full_battery_ends_the_need_early():
    car = ev(soc=0.95, need_wh=10_000, efficiency=1.0)
    assert car.seconds_to_satisfied(2_500) == pytest.approx(2_500 * 3600 / 2_500)
    car.advance(2_500, 3600)
    assert car.satisfied
    assert car.metered_wh < car.need_wh


def test_rejects_impossible_state():
    with pytest.raises(ValueError, match="arrival_soc"):
        ev(soc=1.5)
    with pytest.raises(ValueError, match="efficiency"):
        ev(efficiency=0.0)
