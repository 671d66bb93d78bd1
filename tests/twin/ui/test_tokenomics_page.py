"""The tokenomics tuner through Streamlit's AppTest: it renders every chart, an edit moves the
figures the way the model says, an invalid edit is refused and named, A and B compare side by
side, demand calibrates from a run, and a sweep runs its full grid."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.twin.ui.conftest import checked
from twin.tokenomics import TokenomicsParams

PAGE = Path(__file__).resolve().parents[3] / "twin" / "ui" / "views" / "tokenomics.py"
SMALL = TokenomicsParams().replace({"simulation.paths": 40, "simulation.years": 1.0})
CHARTS = 12  # 11 fan charts and the unlock schedule


def figures(at: AppTest) -> dict[str, list[str]]:
    """The key figures table: label -> one text per set shown."""
    table = next(df.value for df in at.dataframe if "set A" in df.value.columns)
    return {label: list(row) for label, row in table.iterrows()}


@pytest.fixture
def tuner(tmp_path, monkeypatch) -> AppTest:
    """The page over an empty runs root, both sets small (40 paths, one year)."""
    monkeypatch.setenv("EVCH_UI_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["tuner:A"] = SMALL
    at.session_state["tuner:B"] = SMALL
    return checked(at.run())


def test_the_tuner_renders_every_chart_and_the_key_figures(tuner: AppTest):
    assert [t.value for t in tuner.title] == ["Tokenomics tuner"]
    assert len(tuner.get("plotly_chart")) == CHARTS
    table = figures(tuner)
    assert next(iter(table)) == "price, P50 (USD)"
    assert float(table["price, P50 (USD)"][0]) > 0
    assert table["rewards pool dry (P50)"] == ["not within the horizon"]
    assert not tuner.error
    assert any("no run yet" in c.value for c in tuner.sidebar.caption)


def test_an_edit_moves_the_figures_as_the_model_does(tuner: AppTest):
    burned = figures(tuner)["burned (EVCH)"][0]
    tuner.sidebar.number_input(key="A:0:usage.redemption_rate_per_day").set_value(0.05).run()
    assert not tuner.exception
    after = figures(tuner)["burned (EVCH)"][0]
    assert float(after.replace(",", "")) > float(burned.replace(",", ""))
    assert tuner.session_state["tuner:A"].usage.redemption_rate_per_day == 0.05


def test_an_invalid_edit_is_named_and_the_set_keeps_its_last_valid_values(tuner: AppTest):
    tuner.sidebar.number_input(key="A:0:minting.driver_share").set_value(0.9).run()
    (error,) = tuner.sidebar.error
    assert "Set A keeps its last valid values" in error.value
    assert "driver_share + operator_share exceed 1" in error.value
    assert tuner.session_state["tuner:A"] == SMALL
    assert len(tuner.get("plotly_chart")) == CHARTS


def test_a_and_b_compare_side_by_side(tuner: AppTest):
    tuner.sidebar.radio(key="tuner:editing").set_value("B").run()
    tuner.sidebar.number_input(key="B:0:staking.stake_rate_per_day").set_value(0.05).run()
    tuner.toggle(key="tuner:compare").set_value(True).run()
    table = figures(tuner)
    staked_a, staked_b = (float(v.replace(",", "")) for v in table["staked (EVCH)"])
    assert staked_b > staked_a
    # Both sets share their random draws: what staking does not touch stays equal.
    assert table["rewards pool left (EVCH)"][0] == table["rewards pool left (EVCH)"][1]
    tuner.sidebar.button[0].click().run()  # Copy A into B
    assert tuner.session_state["tuner:B"] == tuner.session_state["tuner:A"]


def test_demand_calibrates_from_a_run(quickstart_run: Path, monkeypatch):
    monkeypatch.setenv("EVCH_UI_RUNS", str(quickstart_run.parent))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["tuner:A"] = SMALL
    at.run()
    at.sidebar.multiselect(key="tuner:runs").select(at.sidebar.multiselect[0].options[0]).run()
    next(b for b in at.sidebar.button if b.label == "Calibrate set A").click().run()
    assert not at.exception
    demand = at.session_state["tuner:A"].demand
    assert demand.stations == 10 and demand.sessions_per_station_day == pytest.approx(4.2)
    # The widgets start again from the calibrated values.
    assert at.sidebar.number_input(key="A:1:demand.sessions_per_station_day").value == 4.2
    assert any("no [fx] rate from IRR to USD" in c.value for c in at.sidebar.caption)


def test_a_sweep_runs_the_full_grid(tuner: AppTest):
    tuner.multiselect(key="tuner:swept").set_value(["usage.redemption_rate_per_day", "peg.band"])
    tuner.run()
    tuner.text_input(key="tuner:values:usage.redemption_rate_per_day").set_value("0, 0.02").run()
    tuner.text_input(key="tuner:values:peg.band").set_value("0.02, 0.05, 0.1").run()
    run = next(b for b in tuner.button if b.label.startswith("Run the sweep"))
    assert run.label == "Run the sweep (6 points)"
    run.click().run()
    assert not tuner.exception and not tuner.error
    grid = next(df.value for df in tuner.dataframe if "peg.band" in df.value.columns)
    assert len(grid) == 6 and sorted(set(grid["peg.band"])) == [0.02, 0.05, 0.1]
    assert len(tuner.get("plotly_chart")) == CHARTS + 1


def test_sweep_values_that_are_not_numbers_are_refused(tuner: AppTest):
    tuner.multiselect(key="tuner:swept").set_value(["peg.band"]).run()
    tuner.text_input(key="tuner:values:peg.band").set_value("0.02, five").run()
    assert [e.value for e in tuner.error] == [
        "peg.band: write numbers separated by commas, e.g. 0.01, 0.02"
    ]
