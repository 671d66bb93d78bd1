"""The tokenomics tuner's plotly charts: fan charts of A and B, the unlock schedule, sweeps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from twin.tokenomics.params import DAYS_PER_MONTH, TokenomicsParams
from twin.tokenomics.schedules import unlocked_fraction

SET_COLOURS = {"A": "#1565c0", "B": "#ef6c00"}
ALLOCATION_COLOURS = ("#1565c0", "#00897b", "#7cb342", "#f9a825", "#8e24aa", "#c62828", "#6d4c41")


def fan_chart(bands: dict[str, pd.DataFrame], title: str, unit: str) -> go.Figure:
    """Each set's P10-P90 band, shaded, around its P50 line."""
    figure = go.Figure()
    for name, band in bands.items():
        colour = SET_COLOURS.get(name, "#455a64")
        x = list(band.index) + list(band.index[::-1])
        figure.add_trace(
            go.Scatter(
                x=x,
                y=list(band["p90"]) + list(band["p10"][::-1]),
                fill="toself",
                fillcolor=_faded(colour),
                line={"width": 0},
                hoverinfo="skip",
                name=f"{name} P10-P90",
            )
        )
        figure.add_trace(
            go.Scatter(x=band.index, y=band["p50"], name=f"{name} P50", line={"color": colour})
        )
    return _laid_out(figure, title, unit)


def unlock_chart(params: TokenomicsParams) -> go.Figure:
    """Each allocation's unlocked EVCH over the horizon, stacked (energy pools: the ceiling of
    what Proof-of-Charge may mint by then)."""
    days = np.arange(params.simulation.days, dtype=float)
    dates = pd.date_range(params.simulation.start, periods=len(days), freq="D")
    figure = go.Figure()
    for i, (name, allocation) in enumerate(params.allocations.items()):
        unlocked = unlocked_fraction([allocation], days.reshape(-1, 1, 1))[:, 0, 0]
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=unlocked * allocation.share * params.cap_evch,
                name=name,
                stackgroup="unlocked",
                line={"color": ALLOCATION_COLOURS[i % len(ALLOCATION_COLOURS)]},
            )
        )
    months = params.simulation.days / DAYS_PER_MONTH
    return _laid_out(figure, f"Unlocked by allocation ({months:.0f} months)", "EVCH")


def sweep_chart(grid: pd.DataFrame, swept: list[str], figure_of: str) -> go.Figure:
    """One swept parameter: a line; two: a heat map of ``figure_of`` at each grid point."""
    if len(swept) == 1:
        figure = go.Figure(go.Scatter(x=grid[swept[0]], y=grid[figure_of], mode="lines+markers"))
        figure.update_xaxes(title=swept[0])
        return _laid_out(figure, f"{figure_of} by {swept[0]}", figure_of)
    table = grid.pivot_table(index=swept[0], columns=swept[1], values=figure_of)
    figure = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=[str(v) for v in table.columns],
            y=[str(v) for v in table.index],
            colorbar={"title": figure_of},
            texttemplate="%{z:.4g}",
        )
    )
    figure.update_xaxes(title=swept[1], type="category")
    figure.update_yaxes(title=swept[0], type="category")
    return _laid_out(figure, f"{figure_of} over the grid", None)


def _faded(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.18)"


def _laid_out(figure: go.Figure, title: str, unit: str | None) -> go.Figure:
    figure.update_layout(
        title=title,
        height=340,
        margin={"l": 70, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    if unit:
        figure.update_yaxes(title=unit)
    return figure
