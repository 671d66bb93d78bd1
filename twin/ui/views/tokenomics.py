"""Tokenomics tuner: two parameter sets (A and B) side by side, Monte Carlo fan charts, demand
calibrated from runs, full-grid sweeps, and the parameters file the token service loads."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from twin.replay.reconcile import RunDirError
from twin.tokenomics import METRICS, ModelError, TokenomicsParams, simulate
from twin.tokenomics.calibrate import calibrate
from twin.tokenomics.params_file import ParamsFileError, dump_params, load_params
from twin.tokenomics.results import SimulationResult, key_figures
from twin.tokenomics.sweep import sweep
from twin.ui.runs import list_runs
from twin.ui.settings import ui_settings
from twin.ui.tokenomics_charts import fan_chart, sweep_chart, unlock_chart
from twin.ui.tokenomics_controls import SETS, edit, load, numeric_paths, params_of

CHARTS = (
    ("price_usd",),
    ("circulating_evch", "staked_evch"),
    ("burned_evch", "rewards_left_evch"),
    ("treasury_evch", "treasury_usdc"),
    ("pool_evch", "pool_usdc"),
    ("inflation", "sessions"),
)
FIGURES = {
    "price_usd": "price, P50 (USD)",
    "price_p10_usd": "price, P10 (USD)",
    "price_p90_usd": "price, P90 (USD)",
    "peg_held_share": "days within the peg band",
    "supply_evch": "total supply (EVCH)",
    "circulating_evch": "circulating (EVCH)",
    "staked_evch": "staked (EVCH)",
    "burned_evch": "burned (EVCH)",
    "rewards_left_evch": "rewards pool left (EVCH)",
    "treasury_usdc": "treasury (USDC)",
    "inflation": "inflation (per year)",
    "rewards_dry_share": "paths whose rewards pool ran dry",
    "rewards_dry_p50": "rewards pool dry (P50)",
}
MAX_SWEEP_POINTS = 200
ROW_PX = 35  # a dataframe row: the key figures table shows whole, without scrolling


@st.cache_data(max_entries=8, show_spinner=False)
def _outcome(texts: tuple[str, ...]) -> tuple[dict[str, list[pd.DataFrame]], list[dict]]:
    """Bands of every metric and key figures per set (cached by the sets' parameters)."""
    points = [TokenomicsParams.model_validate_json(text) for text in texts]
    progress = st.progress(0.0, text="Simulating")

    def tracking(done: int, total: int):
        def on_day(day: int) -> None:
            if day % 100 == 0:
                progress.progress((done + day) / total, text=f"Simulating: day {day:,}")

        return on_day

    try:
        result = simulate(points, on_day=tracking(0, points[0].simulation.days))
        runs: list[tuple[SimulationResult, int]] = [(result, i) for i in range(len(points))]
    except ModelError:  # other allocations, tiers or horizon: each set runs on its own
        total = sum(point.simulation.days for point in points)
        runs, done = [], 0
        for point in points:
            runs.append((simulate(point, on_day=tracking(done, total)), 0))
            done += point.simulation.days
    progress.empty()
    bands = {name: [r.bands(name, i) for r, i in runs] for name in METRICS}
    return bands, [key_figures(r, i) for r, i in runs]


def main() -> None:
    st.title("Tokenomics tuner")
    st.caption(
        "The seed's EVCH model: 1B cap, allocations with cliffs and vesting, Proof-of-Charge "
        "minting with off-peak and renewable multipliers, burns on redemption, staking tiers, "
        "an EVCH/USDC constant-product pool and a peg to the average kWh price. "
        "Bands are P10-P50-P90 over the Monte Carlo paths; A and B share their random draws."
    )
    with st.sidebar:
        editing = st.radio("Edit set", SETS, horizontal=True, key="tuner:editing")
        _loaders(editing)
        edit(editing)
    sets = {name: params_of(name) for name in SETS}
    compare = st.toggle("Compare A with B", value=sets["A"] != sets["B"], key="tuner:compare")
    shown = sets if compare else {"A": sets["A"]}
    if any(p.simulation != sets["A"].simulation for p in shown.values()):
        st.warning("A and B differ in [simulation]: they run on different random draws.")
    bands, figures = _outcome(tuple(p.model_dump_json() for p in shown.values()))
    _figures(list(shown), figures)
    for metrics in CHARTS:
        columns = st.columns(len(metrics))
        for column, metric in zip(columns, metrics, strict=True):
            label, unit = METRICS[metric]
            per_set = dict(zip(shown, bands[metric], strict=True))
            column.plotly_chart(fan_chart(per_set, label, unit), width="stretch")
    st.plotly_chart(unlock_chart(sets["A"]), width="stretch")
    _exports(sets)
    _sweep(sets["A"])


def _loaders(editing: str) -> None:
    """Put a file, a calibration or the other set into the set being edited."""
    other = "B" if editing == "A" else "A"
    if st.button(f"Copy {other} into {editing}", width="stretch"):
        load(editing, params_of(other))
    upload = st.file_uploader("Load a parameters file (.toml)", type=["toml"], key="tuner:file")
    if upload is not None and st.session_state.get("tuner:file_loaded") != upload.file_id:
        st.session_state["tuner:file_loaded"] = upload.file_id
        try:
            load(editing, load_params(upload.getvalue().decode("utf-8")))
            st.success(f"{upload.name} loaded into set {editing}")
        except (ParamsFileError, UnicodeDecodeError) as error:
            st.error(f"{upload.name} is not a parameters file:\n\n{error}")
    runs = list_runs(ui_settings().runs)
    if not runs:
        st.caption("Calibrate demand from runs: no run yet (`evch run scenarios/quickstart.toml`)")
        return
    chosen = st.multiselect(
        "Calibrate demand from runs", runs, format_func=lambda run: run.label, key="tuner:runs"
    )
    if chosen and st.button(f"Calibrate set {editing}", width="stretch"):
        try:
            calibration = calibrate([run.path for run in chosen], params_of(editing).demand)
        except RunDirError as error:
            st.error(str(error))
            return
        load(editing, params_of(editing).model_copy(update={"demand": calibration.demand}))
        st.session_state["tuner:calibration"] = (calibration.table(), calibration.notes)
    if "tuner:calibration" in st.session_state:
        table, notes = st.session_state["tuner:calibration"]
        st.dataframe(table, hide_index=True)
        for note in notes:
            st.caption(note)


def _figures(names: list[str], figures: list[dict]) -> None:
    rows = {FIGURES[key]: [f.get(key) for f in figures] for key in FIGURES}
    table = pd.DataFrame(rows, index=[f"set {n}" for n in names]).T
    for column in table:
        table[column] = table[column].map(_figure_text)
    st.subheader("At the end of the horizon")
    st.dataframe(table, width="stretch", height=ROW_PX * (len(table) + 1) + 3)


def _figure_text(value: object) -> str:
    if value is None:
        return "not within the horizon"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _exports(sets: dict[str, TokenomicsParams]) -> None:
    st.subheader("Export")
    st.caption(
        "A parameters file: its [token_service] table is what `evch serve --token-settings`, "
        "`evch validator --token-settings` and a scenario's `[tokens] settings_file` load; "
        "its [model] table loads back here."
    )
    columns = st.columns(len(sets))
    for column, (name, params) in zip(columns, sets.items(), strict=True):
        column.download_button(
            f"Download set {name} (TOML)",
            dump_params(params),
            file_name=f"tokenomics_{name}.toml",
            mime="application/toml",
            key=f"tuner:download:{name}",
        )


def _sweep(base: TokenomicsParams) -> None:
    st.subheader("Sweep (set A, full grid)")
    swept = st.multiselect(
        "Parameters (one or two)", numeric_paths(base), max_selections=2, key="tuner:swept"
    )
    grid: dict[str, list[float]] = {}
    for path in swept:
        text = st.text_input(
            f"Values of {path}", value=str(base.get(path)), key=f"tuner:values:{path}"
        )
        try:
            grid[path] = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            st.error(f"{path}: write numbers separated by commas, e.g. 0.01, 0.02")
            return
    points = math.prod(len(values) for values in grid.values()) if grid else 0
    too_many = points > MAX_SWEEP_POINTS
    if too_many:
        st.warning(f"{points} points: at most {MAX_SWEEP_POINTS} here (a notebook has no limit)")
    if grid and st.button(f"Run the sweep ({points} points)", disabled=too_many):
        progress = st.progress(0.0, text="Sweeping")
        try:
            result = sweep(base, grid, on_point=lambda i: progress.progress((i + 1) / points))
        except (ValidationError, ValueError) as error:
            st.error(f"The sweep cannot run: {error}")
            return
        finally:
            progress.empty()
        st.session_state["tuner:sweep"] = (result.grid, list(grid))
    _sweep_result()


def _sweep_result() -> None:
    if "tuner:sweep" not in st.session_state:
        return
    grid, swept = st.session_state["tuner:sweep"]
    numeric = [key for key in FIGURES if key in grid and key != "rewards_dry_p50"]
    figure_of = st.selectbox("Key figure", numeric, format_func=FIGURES.get, key="tuner:figure")
    st.plotly_chart(sweep_chart(grid, swept, figure_of), width="stretch")
    st.dataframe(grid, hide_index=True, width="stretch")


main()
