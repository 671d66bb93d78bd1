"""Site power per interval, integrated from step changes of each EVSE's draw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twin.site_power import SitePowerLog

START = datetime(2025, 1, 6, tzinfo=UTC)


def test_intervals_integrate_energy_and_keep_the_peak():
    log = SitePowerLog()
    log.set(0, "S", "C1", 1, 6_000)
    log.set(450, "S", "C2", 1, 12_000)  # halfway through the first interval
    log.set(900, "S", "C1", 1, 0)
    log.set(1500, "S", "C2", 1, 0)
    table = log.intervals(START, 1800, 900, {"S": 20.0})
    first, second = table.iloc[0], table.iloc[1]
    assert first["energy_wh"] == pytest.approx(6_000 * 0.25 + 12_000 * 0.125)
    assert first["peak_power_kw"] == pytest.approx(18.0)
    assert first["mean_power_kw"] == pytest.approx(12.0)
    assert second["energy_wh"] == pytest.approx(12_000 * 600 / 3600)
    assert second["peak_power_kw"] == pytest.approx(12.0)
    assert set(table["grid_limit_kw"]) == {20.0}
    assert log.peak_kw() == {"S": pytest.approx(18_000)}


def test_sites_are_kept_apart_and_repeats_ignored():
    log = SitePowerLog()
    log.set(0, "A", "C1", 1, 1_000)
    log.set(0, "B", "C2", 1, 2_000)
    log.set(10, "A", "C1", 1, 1_000)  # no change: no new step
    table = log.intervals(START, 3600, 3600, {"A": 1.0, "B": 1.0})
    assert list(table["site_id"]) == ["A", "B"]
    assert list(table["energy_wh"]) == pytest.approx([1_000, 2_000])
