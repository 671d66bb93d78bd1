"""The ledger admin page's plotly charts: a run's history (LedgerHistory) and the live central
system's answers (the JSON of /api/v1/token/admin/*). Each returns None when there is nothing
to draw, so the page shows its empty state instead."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from twin.report.charts import (
    LIMIT_COLOUR,
    MINTED_COLOUR,
    TIME_AXIS,
    VERIFIED_COLOUR,
    laid_out,
    naive_utc,
    naive_utc_moment,
)
from twin.report.formats import evch
from twin.ui.ledger_history import MINTED, NOT_ENDED, OUTCOMES, REFUSED, UNVERIFIED, WAITING

OUTCOME_COLOURS = {
    MINTED: MINTED_COLOUR,
    WAITING: "#f9a825",
    UNVERIFIED: LIMIT_COLOUR,
    REFUSED: "#424242",
    NOT_ENDED: "#bdbdbd",
}
# Where minted EVCH goes, drawn alike here and on the run explorer (charts.py).
DRIVER_COLOUR, OPERATOR_COLOUR, REWARD_COLOUR = "#1565c0", "#00897b", "#7cb342"
FEE_COLOUR = "#ef6c00"


# -- a run's history -------------------------------------------------------------------------


def minted_vs_verified(sessions: pd.DataFrame, base_raw_per_kwh: int | None) -> go.Figure | None:
    """One point per session: its verified energy against the EVCH minted for it; on the line
    when the rates' base alone was minted, above it with rewards, on the axis when nothing was."""
    if sessions.empty:
        return None
    frame = sessions.assign(minted_evch=sessions["minted_raw"].map(evch))
    figure = px.scatter(
        frame,
        x="verified_kwh",
        y="minted_evch",
        color="outcome",
        color_discrete_map=OUTCOME_COLOURS,
        category_orders={"outcome": list(OUTCOMES)},
        hover_data={"session_id": True, "charger_id": True, "why": True},
    )
    if base_raw_per_kwh is not None:
        top_kwh = float(frame["verified_kwh"].max())
        figure.add_trace(
            go.Scatter(
                x=[0, top_kwh],
                y=[0, top_kwh * evch(base_raw_per_kwh)],
                mode="lines",
                name=f"base: {evch(base_raw_per_kwh):g} EVCH per verified kWh",
                line={"color": "#9e9e9e", "dash": "dot"},
            )
        )
    figure.update_xaxes(title_text="verified energy (kWh)", rangemode="tozero")
    figure.update_yaxes(title_text="EVCH minted (driver + operator + rewards)", rangemode="tozero")
    return _laid_out(figure, 420)


def burns_over_time(burns: pd.DataFrame) -> go.Figure | None:
    if burns.empty:
        return None
    figure = px.bar(
        burns.assign(t=naive_utc(burns["t"]), evch=burns["amount_raw"].map(evch)),
        x="t",
        y="evch",
        color="kind",
        hover_data={"owner_ref": True, "why": True},
    )
    figure.update_xaxes(title_text=TIME_AXIS)
    figure.update_yaxes(title_text="EVCH burnt")
    return _laid_out(figure, 320)


def fees_over_time(fees: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> go.Figure | None:
    """Platform fees withheld on the payments and withdrawn to the treasury: running totals
    from zero at the run's start, held to its end."""
    if fees.empty:
        return None
    times = [naive_utc_moment(start), *naive_utc(fees["t"]), naive_utc_moment(end)]
    withheld, withdrawn = fees["withheld_raw"].cumsum(), fees["withdrawn_raw"].cumsum()
    lines = (
        ("withheld (all time)", withheld, FEE_COLOUR),
        ("withdrawn to the treasury", withdrawn, VERIFIED_COLOUR),
        ("still withheld", withheld - withdrawn, LIMIT_COLOUR),
    )
    figure = go.Figure(
        [
            go.Scatter(
                x=times,
                y=[0.0, *values.map(evch), evch(int(values.iloc[-1]))],
                name=name,
                mode="lines",
                line={"shape": "hv", "color": colour},
            )
            for name, values, colour in lines
        ]
    )
    figure.update_xaxes(title_text=TIME_AXIS)
    figure.update_yaxes(title_text="EVCH (running total)", rangemode="tozero")
    return _laid_out(figure, 320)


def staking_by_lock(stakes: pd.DataFrame) -> go.Figure | None:
    if stakes.empty:
        return None
    frame = stakes.assign(
        evch=stakes["amount_raw"].map(evch),
        state=stakes["open"].map({True: "locked in the vault", False: "unstaked"}),
        lock=stakes["lock_days"].map(lambda days: f"{days:g} d"),
    )
    figure = px.bar(frame, x="lock", y="evch", color="state", hover_data={"owner_ref": True})
    figure.update_xaxes(title_text="lock length", type="category")
    figure.update_yaxes(title_text="EVCH staked")
    return _laid_out(figure, 320)


# -- both sources ----------------------------------------------------------------------------


def settlements_per_session(settlements: pd.DataFrame) -> go.Figure | None:
    """What each session paid in EVCH cost the driver: the operator's share and the fee."""
    if settlements.empty:
        return None
    sessions = [f"session {s}" for s in settlements["session_id"]]
    figure = go.Figure(
        [
            go.Bar(x=sessions, y=settlements["net_raw"].map(evch), name="to the operator",
                   marker_color=OPERATOR_COLOUR),
            go.Bar(x=sessions, y=settlements["fee_raw"].map(evch), name="platform fee (withheld)",
                   marker_color=FEE_COLOUR),
        ]
    )  # fmt: skip
    figure.update_layout(barmode="stack")
    figure.update_xaxes(title_text="session paid in EVCH", type="category")
    figure.update_yaxes(title_text="EVCH the driver sent")
    return _laid_out(figure, 320)


# -- the live central system -----------------------------------------------------------------


def live_minted_raw(supply: dict) -> int:
    """All EVCH minted, from /token/admin/supply: Proof-of-Charge mints every EVCH there is."""
    return (
        supply["minted_to_drivers_raw"]
        + supply["minted_to_operators_raw"]
        + supply["rewards_minted_raw"]
    )


def live_supply(supply: dict) -> go.Figure | None:
    """Where the minted EVCH went: the supply now, and what was burnt (minted - supply)."""
    minted = live_minted_raw(supply)
    if minted == 0:
        return None
    return _bars(
        [
            ("minted to drivers", supply["minted_to_drivers_raw"], DRIVER_COLOUR),
            ("minted to operators", supply["minted_to_operators_raw"], OPERATOR_COLOUR),
            ("rewards to drivers", supply["rewards_minted_raw"], REWARD_COLOUR),
            ("burnt", minted - supply["supply_raw"], LIMIT_COLOUR),
            ("supply", supply["supply_raw"], MINTED_COLOUR),
            ("withheld fees (in the mint)", supply["withheld_fees_raw"], FEE_COLOUR),
        ],
        height_px=320,
    )


def live_energy(supply: dict, base_raw_per_kwh: int) -> go.Figure | None:
    """Verified energy beside the EVCH it minted and the base the current rates give for it."""
    if supply["verified_wh"] == 0:
        return None
    kwh = supply["verified_wh"] / 1000
    figure = go.Figure(
        [
            go.Bar(x=["verified energy (kWh)"], y=[kwh], name="verified energy",
                   marker_color=VERIFIED_COLOUR),
            go.Bar(x=["EVCH minted"], y=[evch(supply["minted_to_drivers_raw"])],
                   name="to drivers", marker_color=DRIVER_COLOUR),
            go.Bar(x=["EVCH minted"], y=[evch(supply["minted_to_operators_raw"])],
                   name="to operators", marker_color=OPERATOR_COLOUR),
            go.Bar(x=["EVCH minted"], y=[evch(supply["rewards_minted_raw"])],
                   name="rewards", marker_color=REWARD_COLOUR),
            go.Bar(x=["EVCH the rates give (base)"], y=[kwh * evch(base_raw_per_kwh)],
                   name="base at the current rates", marker_color="#bdbdbd"),
        ]
    )  # fmt: skip
    figure.update_layout(barmode="stack")
    figure.update_yaxes(title_text="kWh | EVCH", rangemode="tozero")
    return _laid_out(figure, 320)


def live_fees(fees: dict) -> go.Figure | None:
    """The platform fees: withheld on each account, harvested into the mint, in the treasury."""
    if fees["withheld_total_raw"] == 0 and fees["treasury_balance_raw"] == 0:
        return None
    bars = [
        *((f"withheld: {a['owner_ref']}", a["withheld_raw"], FEE_COLOUR) for a in fees["accounts"]),
        ("harvested into the mint", fees["withheld_in_mint_raw"], LIMIT_COLOUR),
        ("in the treasury", fees["treasury_balance_raw"], VERIFIED_COLOUR),
    ]
    return _bars(bars, height_px=160 + 30 * len(bars))


def _bars(bars: list[tuple[str, int, str]], height_px: int) -> go.Figure:
    """(name, raw EVCH, colour) as horizontal bars, top to bottom."""
    figure = go.Figure(
        go.Bar(
            x=[evch(raw) for _, raw, _ in bars],
            y=[name for name, _, _ in bars],
            orientation="h",
            marker_color=[colour for _, _, colour in bars],
        )
    )
    figure.update_xaxes(title_text="EVCH", rangemode="tozero")
    figure.update_yaxes(autorange="reversed")
    return _laid_out(figure, height_px)


def _laid_out(figure: go.Figure, height_px: int) -> go.Figure:
    return laid_out(figure, height_px, template="plotly_white")
