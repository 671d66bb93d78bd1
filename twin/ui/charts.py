"""The run explorer's own plotly charts (site power and prices are the report's: twin/report/)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from twin.report.charts import (
    LIMIT_COLOUR,
    MINTED_COLOUR,
    TIME_AXIS,
    VERIFIED_COLOUR,
    held_until,
    laid_out,
    naive_utc,
)
from twin.report.formats import evch
from twin.ui.charger_states import CHARGING, FAULT, PLUGGED
from twin.ui.ledger_charts import DRIVER_COLOUR, OPERATOR_COLOUR, REWARD_COLOUR
from twin.ui.runs import TokenFlows

STATE_COLOURS = {CHARGING: VERIFIED_COLOUR, PLUGGED: "#f9a825", FAULT: LIMIT_COLOUR}
BAY_HEIGHT_PX = 26
# The token flows, each a column of TokenFlows' tables, drawn as running totals.
FLOWS = (
    ("mints", "driver_raw", "minted to drivers", DRIVER_COLOUR),
    ("mints", "operator_raw", "minted to operators", OPERATOR_COLOUR),
    ("mints", "reward_raw", "rewards to drivers", REWARD_COLOUR),
    ("payments", "gross_raw", "paid by drivers in EVCH", "#ef6c00"),
    ("payments", "fee_raw", "platform fees", LIMIT_COLOUR),
)


def charger_timeline(states: pd.DataFrame) -> go.Figure | None:
    """A Gantt of `charger_states()`: one row per connector (and per charger with a fault)."""
    if states.empty:
        return None
    frame = states.assign(start=naive_utc(states["start"]), end=naive_utc(states["end"]))
    bays = sorted(frame["bay"].unique())
    figure = px.timeline(
        frame,
        x_start="start",
        x_end="end",
        y="bay",
        color="state",
        hover_data={"detail": True},
        color_discrete_map=STATE_COLOURS,
        category_orders={"bay": bays, "state": list(STATE_COLOURS)},
    )
    figure.update_yaxes(title_text="charger / connector")
    figure.update_xaxes(title_text=TIME_AXIS)
    return laid_out(figure, height_px=BAY_HEIGHT_PX * len(bays) + 140)


def token_flow_chart(flows: TokenFlows, until: pd.Timestamp | None) -> go.Figure | None:
    """Running totals of EVCH minted (to drivers, operators, as rewards), paid and withheld as
    fees, and the supply, each held to the end of the run."""
    if flows.mints.empty and flows.payments.empty:
        return None
    figure = go.Figure()
    for table, column, name, colour in FLOWS:
        frame = getattr(flows, table)
        if frame.empty:
            continue
        x, y = _from_zero(naive_utc(frame["t"]), frame[column].cumsum().map(evch), until)
        figure.add_trace(_steps(x, y, name, {"color": colour}))
    x, y = _from_zero(naive_utc(flows.supply["t"]), flows.supply["supply_raw"].map(evch), until)
    figure.add_trace(_steps(x, y, "supply", {"color": MINTED_COLOUR, "dash": "dash"}))
    figure.update_xaxes(title_text=TIME_AXIS)
    figure.update_yaxes(title_text="EVCH (running total)", rangemode="tozero")
    return laid_out(figure, height_px=420)


def mints_per_session_chart(flows: TokenFlows) -> go.Figure | None:
    """What each Proof-of-Charge minted, split between the driver, the operator and rewards."""
    if flows.mints.empty:
        return None
    mints = flows.mints
    sessions = [f"session {int(s)}" if pd.notna(s) else "no session" for s in mints["session_id"]]
    figure = go.Figure(
        [
            go.Bar(x=sessions, y=mints[column].map(evch), name=name, marker_color=colour)
            for table, column, name, colour in FLOWS
            if table == "mints"
        ]
    )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(title_text="session (CSMS id), in the order minted", type="category")
    figure.update_yaxes(title_text="EVCH minted")
    return laid_out(figure, height_px=380)


def _steps(x: list, y: list, name: str, line: dict) -> go.Scatter:
    return go.Scatter(x=x, y=y, name=name, mode="lines", line={"shape": "hv", **line})


def _from_zero(
    times: pd.Series, values: pd.Series, until: pd.Timestamp | None
) -> tuple[list, list]:
    """Steps from zero that hold their last value to `until`, so a total reads at the end."""
    if times.empty:
        return [], []
    return held_until([times.iloc[0], *times], [0.0, *values], until)
