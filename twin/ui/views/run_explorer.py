"""Run explorer: one run's summary, site power against the grid limit, charger states, prices,
sessions and token flows."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from twin.report.charts import naive_utc_moment, price_chart, site_power_chart
from twin.report.formats import share_text
from twin.ui import cached
from twin.ui.charger_states import charger_states
from twin.ui.charts import charger_timeline, mints_per_session_chart, token_flow_chart
from twin.ui.formats import evch_exact, evch_short, major, utc_column
from twin.ui.layout import metric_rows, show_chart
from twin.ui.picker import load_chosen_run
from twin.ui.runs import NotARunError, RunData, TokenFlows

SESSION_COLUMNS = {
    "session_id": st.column_config.NumberColumn("session", format="%d"),
    "charger_id": "charger",
    "evse_id": st.column_config.NumberColumn("EVSE", format="%d"),
    "protocol": "OCPP",
    "id_token": "id token",
    "ev_model": "EV",
    "arrival": utc_column("arrival"),
    "start": utc_column("start"),
    "stop": utc_column("stop"),
    "energy_kwh": st.column_config.NumberColumn("energy (kWh)", format="%.3f"),
    "cost": st.column_config.NumberColumn("cost", format="localized"),
    "currency": "currency",
    "csms_state": "CSMS state",
    "truncated": st.column_config.CheckboxColumn("cut by the run's end"),
}


def main() -> None:
    st.title("Run explorer")
    run = load_chosen_run(cached.run_data, NotARunError)
    end = _run_end(run)
    _summary(run)
    _charts(run, end)
    _sessions(run.sessions)
    _tokens(run.tokens, end)


def _summary(run: RunData) -> None:
    manifest = run.manifest
    sessions = int(manifest.get("sessions", len(run.sessions)))
    tokens = manifest.get("tokens")
    verified = int(manifest.get("verified_sessions", 0))
    billed = ", ".join(_major_text(v, c) for c, v in manifest.get("billed", {}).items())
    minted = (
        (evch_short(tokens["minted_raw"]), evch_exact(tokens["minted_raw"]))
        if tokens
        else ("no tokens", "the run ran without tokens")
    )
    metrics = [
        ("Sessions", f"{sessions:,}", f"of {manifest.get('arrivals', 0):,} arrivals"),
        ("Energy", f"{manifest.get('energy_kwh', 0):,.1f} kWh", "metered, all sessions"),
        ("Billed", billed or "nothing", None),
        ("EVCH minted", *minted),
        (
            "Verified sessions",
            f"{verified:,} of {sessions:,}",
            f"{share_text(verified, sessions)}: signed meter readings that verify",
        ),
    ]
    limits = run.site_power.groupby("site_id")["grid_limit_kw"].max() if len(run.site_power) else {}
    for site, peak_kw in manifest.get("peak_kw", {}).items():
        limit = f" of {limits[site]:,.0f}" if site in limits else ""
        metrics.append((f"Peak {site}", f"{peak_kw:,.1f}{limit} kW", "against the grid limit"))
    st.caption(f"`{run.info.path}`: scenario {run.info.scenario}, seed {manifest.get('seed')}")
    metric_rows(metrics)


def _charts(run: RunData, end: pd.Timestamp | None) -> None:
    site_power = site_power_chart(run.site_power)
    show_chart(site_power.figure, site_power.empty_note, title=site_power.title)
    show_chart(
        charger_timeline(charger_states(run.events, end)) if end is not None else None,
        "The run recorded no charger events.",
        title="Charger states",
    )
    prices = price_chart(run.prices, naive_utc_moment(end))
    show_chart(prices.figure, prices.empty_note, title=prices.title)


def _sessions(sessions: pd.DataFrame) -> None:
    st.subheader(f"Sessions ({len(sessions):,})")
    if sessions.empty:
        st.info("The run had no sessions.")
        return
    table = sessions.assign(
        energy_kwh=sessions["energy_wh"] / 1000,
        cost=[
            major(minor, currency)
            for minor, currency in zip(sessions["cost_minor"], sessions["currency"], strict=True)
        ],
    )
    st.dataframe(
        table[list(SESSION_COLUMNS)].sort_values("start"),
        hide_index=True,
        column_config=SESSION_COLUMNS,
    )


def _tokens(flows: TokenFlows | None, end: pd.Timestamp | None) -> None:
    st.subheader("Token flows")
    if flows is None:
        st.info("This run ran without tokens: there is no ledger log (ledger.jsonl).")
        return
    totals = [
        ("Minted to drivers", flows.mints["driver_raw"].sum()),
        ("Minted to operators", flows.mints["operator_raw"].sum()),
        ("Rewards to drivers", flows.mints["reward_raw"].sum()),
        ("Paid in EVCH", flows.payments["gross_raw"].sum()),
        ("Platform fees", flows.payments["fee_raw"].sum()),
    ]
    metric_rows([(label, evch_short(int(raw)), evch_exact(int(raw))) for label, raw in totals])
    show_chart(
        token_flow_chart(flows, naive_utc_moment(end)),
        "The ledger recorded no mint and no payment.",
        title="EVCH over the run",
    )
    show_chart(
        mints_per_session_chart(flows),
        "The ledger recorded no Proof-of-Charge.",
        title="EVCH minted per session",
    )


def _major_text(amount: str, currency: str) -> str:
    """The manifest's amount in major units, without a fraction of zeros (it fits a metric)."""
    value = Decimal(amount)
    written = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,}"
    return f"{written} {currency}"


def _run_end(run: RunData) -> pd.Timestamp | None:
    """The end of the simulated time: the site power intervals cover the run to its end."""
    if run.site_power.empty:
        return run.events["t"].max() if not run.events.empty else None
    return pd.to_datetime(run.site_power["interval_end"], utc=True).max()


main()
