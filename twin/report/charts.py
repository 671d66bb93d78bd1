"""The report's plotly charts, each drawn from the Audit alone, and their HTML fragments; and
what the Streamlit views' charts share with them (colours, times, layout)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from twin.replay.audit import Audit, SessionAudit, Verification
from twin.report.formats import evch

VERIFIED_COLOUR = "#2e7d32"
STATUS_COLOURS = {Verification.VERIFIED: VERIFIED_COLOUR, Verification.UNVERIFIED: "#c62828"}
LIMIT_COLOUR = "#c62828"
MINTED_COLOUR = "#6a1b9a"
ROW_HEIGHT_PX = 230  # one site or currency per row; an A4 landscape page holds two
TIME_AXIS = "time (UTC)"
# No plotly logo (a link off the machine) and no selection tools: a report only reads.
CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
MARGIN = {"l": 70, "r": 20, "t": 40, "b": 50}
LEGEND_ABOVE = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    figure: go.Figure | None  # None: the run recorded nothing to draw
    empty_note: str = ""


def charts(audit: Audit) -> list[Chart]:
    until = _run_end(audit.site_power)
    return [
        site_power_chart(audit.site_power),
        price_chart(audit.prices, until),
        sessions_chart(audit.sessions),
        energy_chart(audit.sessions),
        supply_chart(audit.supply, until),
    ]


def chart_fragments(chart_list: Sequence[Chart]) -> list[str]:
    """Each chart's <div>; plotly.js is inlined with the first figure only, so the page opens
    offline and carries the 4 MB bundle once."""
    fragments, bundled = [], False
    for chart in chart_list:
        if chart.figure is None:
            fragments.append("")
            continue
        fragments.append(
            chart.figure.to_html(
                full_html=False,
                include_plotlyjs=not bundled,
                div_id=chart.id,  # fixed ids: the same Audit gives the same page
                config=CONFIG,
            )
        )
        bundled = True
    return fragments


def site_power_chart(site_power: pd.DataFrame) -> Chart:
    title = "Site power against the grid limit"
    if site_power.empty:
        return Chart("chart-site-power", title, None, "No site power was recorded in this run.")
    sites = sorted(site_power["site_id"].unique())
    figure = make_subplots(
        rows=len(sites),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12 / len(sites),
        subplot_titles=[f"site {site}" for site in sites],
    )
    for row, site in enumerate(sites, start=1):
        frame = site_power[site_power["site_id"] == site].sort_values("interval_start")
        lines = (
            ("mean_power_kw", "mean power", {"color": "#1565c0"}),
            ("peak_power_kw", "peak power", {"color": "#ef6c00"}),
            ("grid_limit_kw", "grid limit", {"color": LIMIT_COLOUR, "dash": "dash"}),
        )
        for column, name, line in lines:
            x, y = _interval_steps(frame, column)
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=name,
                    legendgroup=name,
                    showlegend=row == 1,
                    mode="lines",
                    line={"shape": "hv", "width": 2, **line},
                ),
                row=row,
                col=1,
            )
        over = frame[frame["peak_power_kw"] > frame["grid_limit_kw"]]
        if not over.empty:
            starts, ends = naive_utc(over["interval_start"]), naive_utc(over["interval_end"])
            figure.add_trace(
                go.Scatter(
                    x=starts + (ends - starts) / 2,
                    y=over["peak_power_kw"],
                    name="peak over the limit",
                    legendgroup="over",
                    showlegend=not any(t.legendgroup == "over" for t in figure.data),
                    mode="markers",
                    marker={"symbol": "x", "size": 11, "color": LIMIT_COLOUR},
                ),
                row=row,
                col=1,
            )
        figure.update_yaxes(title_text="power (kW)", rangemode="tozero", row=row, col=1)
    figure.update_xaxes(title_text=TIME_AXIS, row=len(sites), col=1)
    return Chart("chart-site-power", title, _laid_out(figure, len(sites)))


def price_chart(prices: pd.DataFrame, until: pd.Timestamp | None) -> Chart:
    """Published prices per site as steps, one row per currency (their scales do not compare)."""
    title = "Published energy price"
    if prices.empty:
        return Chart("chart-prices", title, None, "No prices were published in this run.")
    currencies = sorted(prices["currency"].unique())
    figure = make_subplots(
        rows=len(currencies), cols=1, shared_xaxes=True, vertical_spacing=0.12 / len(currencies)
    )
    for row, currency in enumerate(currencies, start=1):
        in_currency = prices[prices["currency"] == currency]
        for site in sorted(in_currency["site_id"].unique()):
            frame = in_currency[in_currency["site_id"] == site].sort_values("start")
            x, y = held_until(naive_utc(frame["start"]), frame["price_per_kwh"], until)
            figure.add_trace(
                go.Scatter(
                    x=x, y=y, name=f"site {site}", mode="lines", line={"shape": "hv", "width": 2}
                ),
                row=row,
                col=1,
            )
        figure.update_yaxes(title_text=f"price ({currency}/kWh)", row=row, col=1)
    figure.update_xaxes(title_text=TIME_AXIS, row=len(currencies), col=1)
    return Chart("chart-prices", title, _laid_out(figure, len(currencies)))


def sessions_chart(sessions: Iterable[SessionAudit]) -> Chart:
    title = "Sessions per charger"
    rows = [(s.charger_id, s.verification) for s in sessions]
    if not rows:
        return Chart("chart-sessions", title, None, "The run had no sessions.")
    counts = (
        pd.DataFrame(rows, columns=["charger_id", "verification"])
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=list(Verification), fill_value=0)
        .sort_index()
    )
    figure = go.Figure(
        [
            go.Bar(
                x=counts.index,
                y=counts[status],
                name=str(status),
                marker_color=STATUS_COLOURS[status],
            )
            for status in Verification
        ]
    )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(title_text="charger", type="category")
    figure.update_yaxes(title_text="sessions", dtick=1 if counts.to_numpy().sum() <= 20 else None)
    return Chart("chart-sessions", title, _laid_out(figure, 1))


def energy_chart(sessions: Sequence[SessionAudit]) -> Chart:
    """Each session's verified energy beside what should have been minted for it (1 EVCH per
    verified kWh) and what was: unequal bars are a session to look at. Sessions are numbered as
    in the session table."""
    title = "Verified energy and minted EVCH per session"
    if not sessions:
        return Chart("chart-energy", title, None, "The run had no sessions.")
    numbers = list(range(1, len(sessions) + 1))
    hover = [
        f"#{n} {s.charger_id} / {s.transaction_ref} ({s.verification})"
        for n, s in zip(numbers, sessions, strict=True)
    ]
    bars = (
        (
            "verified energy (kWh)",
            [(s.verified_energy_wh or 0) / 1000 for s in sessions],
            {"color": VERIFIED_COLOUR},
        ),
        (
            "expected mint (EVCH)",
            [evch(s.expected_mint_raw) for s in sessions],
            {"color": "#bdbdbd", "line": {"color": "#424242", "width": 1}},
        ),
        ("minted (EVCH)", [evch(s.minted_raw or 0) for s in sessions], {"color": MINTED_COLOUR}),
    )
    figure = go.Figure(
        [
            go.Bar(x=numbers, y=y, name=name, marker=marker, hovertext=hover)
            for name, y, marker in bars
        ]
    )
    figure.update_layout(barmode="group")
    figure.update_xaxes(title_text="session # (as in the session table)", type="category")
    figure.update_yaxes(title_text="kWh | EVCH (1 EVCH ≈ 1 kWh)", rangemode="tozero")
    return Chart("chart-energy", title, _laid_out(figure, 1, hovermode="closest"))


def supply_chart(supply: pd.DataFrame, until: pd.Timestamp | None) -> Chart:
    title = "EVCH supply"
    if supply.empty:
        return Chart("chart-supply", title, None, "The ledger recorded no change of supply.")
    frame = supply.sort_values("t")
    x, y = held_until(naive_utc(frame["t"]), frame["supply_evch"], until)
    figure = go.Figure(
        go.Scatter(
            x=x, y=y, name="supply", mode="lines", line={"shape": "hv", "color": MINTED_COLOUR}
        )
    )
    figure.update_xaxes(title_text=TIME_AXIS)
    figure.update_yaxes(title_text="supply (EVCH)", rangemode="tozero")
    return Chart("chart-supply", title, _laid_out(figure, 1))


def laid_out(figure: go.Figure, height_px: int, **layout: Any) -> go.Figure:
    """The layout every chart shares (the legend above the plot, room for the axis titles),
    `layout` on top of it."""
    figure.update_layout(height=height_px, margin=MARGIN, legend=LEGEND_ABOVE, **layout)
    return figure


def _laid_out(figure: go.Figure, rows: int, hovermode: str = "x unified") -> go.Figure:
    laid_out(figure, ROW_HEIGHT_PX * rows + 90, template="plotly_white", hovermode=hovermode)
    # Outside ticks keep the first time label clear of the y axis' 0.
    figure.update_xaxes(ticks="outside", ticklen=6, tickcolor="#bdbdbd")
    return figure


def naive_utc(times: pd.Series) -> pd.Series:
    """Naive UTC times (naive input is UTC already): plotly.js has no time zones."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None)


def naive_utc_moment(moment: pd.Timestamp | None) -> pd.Timestamp | None:
    """One moment as `naive_utc` gives times; None stays None."""
    return None if moment is None else pd.to_datetime(moment, utc=True).tz_localize(None)


def _interval_steps(frame: pd.DataFrame, column: str) -> tuple[list, list]:
    """A per-interval value as steps that cover each interval, the last one to its end."""
    x = [*naive_utc(frame["interval_start"]), naive_utc(frame["interval_end"]).iloc[-1]]
    y = [*frame[column], frame[column].iloc[-1]]
    return x, y


def held_until(
    times: Iterable[pd.Timestamp], values: Iterable[float], until: pd.Timestamp | None
) -> tuple[list, list]:
    """Steps whose last value holds to the end of the run, so a single price still shows."""
    x, y = list(times), list(values)
    if until is not None and x and until > x[-1]:
        x, y = [*x, until], [*y, y[-1]]
    return x, y


def _run_end(site_power: pd.DataFrame) -> pd.Timestamp | None:
    return None if site_power.empty else naive_utc(site_power["interval_end"]).max()
