"""Ledger admin: EVCH's supply, minted against verified energy, burns, withheld fees, payments
and the staking pool, live from the central system (its REST API, with the admin token, which
also runs the admin actions) or as history from a run directory (read-only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from programs.proof_of_charge import Rates
from twin.report.charts import naive_utc_moment, supply_chart
from twin.report.formats import evch, evch_text, share_text
from twin.ui import cached, ledger_charts
from twin.ui.csms_api import CsmsApi
from twin.ui.formats import EVCH_COLUMN, KWH_COLUMN, major, utc_column
from twin.ui.layout import metric_rows, show_chart
from twin.ui.ledger_actions import actions
from twin.ui.ledger_history import MINTED, NOT_ENDED, LedgerHistory, base_raw_per_kwh
from twin.ui.picker import load_chosen_run
from twin.ui.runs import NotARunError, RunData
from twin.ui.settings import ui_settings

LIVE, RUN = "Live central system", "Run directory"
NOTHING_MINTED = "Nothing minted yet: Proof-of-Charge has recorded no session."
NO_AMM = (
    "There is no on-chain AMM in EVCH: the EVCH/USDC liquidity pool is a model quantity, "
    "shown in the **Tokenomics tuner**. The pool on the ledger is the staking vault."
)


def main() -> None:
    st.title("Ledger admin")
    source = st.radio(
        "Source",
        [LIVE, RUN],
        index=None,
        horizontal=True,
        key="ledger_admin_source",
        help="Live: the central system's REST API, with its admin token (read and act). "
        "Run directory: the history a twin run recorded (read-only).",
    )
    if source == LIVE:
        _live()
    elif source == RUN:
        _run()
    else:
        st.info(
            "Choose a source: the **live central system** (`evch serve --tokens`; its REST API "
            "and admin token, for the ledger now and the admin actions) or a **run directory** "
            "(`evch run`; the history of a twin run's ledger)."
        )


# -- live ------------------------------------------------------------------------------------


def _live() -> None:
    url, token = st.columns([3, 2])
    api_url = url.text_input("CSMS API URL", value=ui_settings().api_url, key="ledger_admin_api")
    admin_token = token.text_input(
        "Admin token",
        type="password",
        key="ledger_admin_token",
        help="the central system's EVCH_ADMIN_TOKEN (`evch serve --admin-token`)",
    )
    if not admin_token:
        st.info("Enter the admin token: every read and action here is an admin route.")
        return
    api = CsmsApi(api_url, admin_token)
    supply = api.get("/token/admin/supply")
    if not supply.ok:
        st.error(supply.error)
        return
    config, fees, settlements = (
        api.get(path)
        for path in ("/token/admin/config", "/token/admin/fees", "/token/admin/settlements")
    )
    for answer in (config, fees, settlements):
        if not answer.ok:
            st.error(answer.error)
    config_body = config.body if config.ok else None
    fees_body = fees.body if fees.ok else None
    _live_metrics(supply.body, config_body)
    _live_charts(supply.body, config_body, fees_body)
    st.subheader("Payments in EVCH")
    _settlements(pd.DataFrame(settlements.body) if settlements.ok else pd.DataFrame())
    _pool(None)
    if config_body is not None:
        with st.expander("Mint and Proof-of-Charge configuration (on chain)"):
            st.json(config_body)
    st.subheader("Admin actions")
    actions(api, config_body, fees_body)


def _live_metrics(supply: dict, config: dict | None) -> None:
    minted = ledger_charts.live_minted_raw(supply)
    state = "—"
    if config is not None:
        state = "paused" if config["proof_of_charge"]["paused"] else "running"
    metric_rows(
        (
            ("EVCH supply", evch_text(supply["supply_raw"]), "tokens in existence now"),
            ("Minted", evch_text(minted), "by Proof-of-Charge, rewards included"),
            ("Burnt", evch_text(minted - supply["supply_raw"]), "minted less the supply"),
            ("Verified energy", f"{supply['verified_wh'] / 1000:,.3f} kWh", "recorded on chain"),
            ("Sessions recorded", f"{supply['sessions_recorded']:,}", None),
            ("Proof-of-Charge", state, "a paused program refuses every record"),
        )
    )


def _live_charts(supply: dict, config: dict | None, fees: dict | None) -> None:
    show_chart(ledger_charts.live_supply(supply), NOTHING_MINTED, title="Supply")
    st.subheader("Minted vs verified energy")
    if config is None:
        st.info("The rates are unknown: the config could not be read.")
    else:
        base = base_raw_per_kwh(Rates(**config["proof_of_charge"]["rates"]))
        show_chart(ledger_charts.live_energy(supply, base), NOTHING_MINTED)
    st.subheader("Withheld fees")
    if fees is None:
        st.info("The withheld fees are unknown: they could not be read.")
    else:
        show_chart(ledger_charts.live_fees(fees), "No platform fee has been withheld yet.")


# -- a run directory -------------------------------------------------------------------------


def _run() -> None:
    run = load_chosen_run(cached.run_data, NotARunError)
    info = run.info
    if run.tokens is None:
        st.info(
            "This run ran without tokens (its scenario has no `[tokens] enabled = true`): "
            "there is no ledger log to show."
        )
        return
    try:
        history = cached.ledger_history(run)
        start, end = (pd.Timestamp(run.manifest[key]) for key in ("start", "end"))
    except Exception as error:  # a damaged run of any kind: say what, never a traceback
        st.error(f"The ledger history of {info.path} could not be read: {error!r}")
        return
    st.caption(f"`{info.path}`: scenario {info.scenario}, read-only history")
    _run_metrics(run, history)
    supply = run.tokens.supply
    chart = supply_chart(
        supply.assign(supply_evch=supply["supply_raw"].map(evch)), naive_utc_moment(end)
    )
    show_chart(chart.figure, chart.empty_note, title="Supply")
    show_chart(
        ledger_charts.minted_vs_verified(history.sessions, history.base_raw_per_kwh),
        "The run had no sessions.",
        title="Minted vs verified energy",
    )
    missed = history.sessions[history.sessions["outcome"] != MINTED]
    if not missed.empty:
        st.dataframe(
            missed.drop(columns="minted_raw"),
            hide_index=True,
            column_config={"verified_kwh": KWH_COLUMN},
        )
    show_chart(
        ledger_charts.burns_over_time(history.burns),
        "No EVCH was burnt in this run (no redemption, no admin burn).",
        title="Burns",
    )
    show_chart(
        ledger_charts.fees_over_time(history.fees, start, end),
        "No platform fee was withheld: no session was paid in EVCH.",
        title="Withheld fees",
    )
    st.subheader("Payments in EVCH")
    _settlements(history.settlements)
    _pool(history)


def _run_metrics(run: RunData, history: LedgerHistory) -> None:
    sessions = history.sessions
    ended = sessions[sessions["outcome"] != NOT_ENDED]
    fees = history.fees
    withheld = int(fees["withheld_raw"].sum() - fees["withdrawn_raw"].sum())
    supply = run.tokens.supply["supply_raw"]
    metric_rows(
        (
            ("EVCH supply", evch_text(int(supply.iloc[-1]) if len(supply) else 0), "at the end"),
            ("Minted", evch_text(int(sessions["minted_raw"].sum())), "by Proof-of-Charge"),
            (
                "Sessions minted",
                share_text(int((ended["outcome"] == MINTED).sum()), len(ended)),
                "of the sessions that ended",
            ),
            ("Verified energy", f"{sessions['verified_kwh'].sum():,.3f} kWh", None),
            ("Burnt", evch_text(int(history.burns["amount_raw"].sum())), None),
            ("Fees withheld", evch_text(withheld), "not withdrawn to the treasury"),
        )
    )


# -- both sources ----------------------------------------------------------------------------


def _settlements(settlements: pd.DataFrame) -> None:
    if settlements.empty:
        st.info("No session was paid in EVCH.")
        return
    show_chart(ledger_charts.settlements_per_session(settlements), "")
    bills = zip(settlements["bill_minor"], settlements["bill_currency"], strict=True)
    table = pd.DataFrame(
        {
            "session": settlements["session_id"],
            "bill": [major(minor, currency) for minor, currency in bills],
            "currency": settlements["bill_currency"],
            "peg": settlements["peg_basis"],
            "paid (EVCH)": settlements["gross_raw"].map(evch),
            "fee (EVCH)": settlements["fee_raw"].map(evch),
            "to the operator (EVCH)": settlements["net_raw"].map(evch),
            "settled in": settlements["settled_in"],
            "settled at": pd.to_datetime(settlements["settled_at"], utc=True),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "paid (EVCH)": EVCH_COLUMN,
            "fee (EVCH)": EVCH_COLUMN,
            "to the operator (EVCH)": EVCH_COLUMN,
            "settled at": utc_column("settled at"),
        },
    )


def _pool(history: LedgerHistory | None) -> None:
    st.subheader("Pool state")
    st.info(NO_AMM)
    st.markdown("**Staking pool** (the staking vault)")
    if history is None:
        st.caption(
            "The central system's API does not serve the staking vault: choose a run directory "
            "for its history."
        )
        return
    stakes = history.stakes
    if stakes.empty:
        st.info("No EVCH was staked in this run.")
        return
    locked = stakes[stakes["open"]]
    metric_rows(
        (
            ("Staked now", evch_text(int(locked["amount_raw"].sum())), "in the vault"),
            ("Open positions", f"{len(locked):,}", f"{len(stakes):,} staked in all"),
        )
    )
    show_chart(ledger_charts.staking_by_lock(stakes), "")
    st.dataframe(
        stakes.assign(evch=stakes["amount_raw"].map(evch)).drop(columns="amount_raw"),
        hide_index=True,
        column_config={"evch": EVCH_COLUMN, "t": utc_column("staked")},
    )


main()
