"""Replay report: the regulator's view of a run, rebuilt from its recorded OCPP frames by
`twin.replay` and checked against the CSMS database and the ledger (as `evch replay` does)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from twin.replay import Audit, RunDirError
from twin.report import write_report
from twin.report.browser import INSTALL_HINT, find_browser
from twin.report.charts import charts
from twin.report.formats import evch, plural, share_text
from twin.report.html import GENERATED_FROM, render_html
from twin.ui import cached
from twin.ui.formats import (
    EVCH_COLUMN,
    KWH_COLUMN,
    MONEY_COLUMN,
    evch_exact,
    evch_short,
    major,
    utc_column,
)
from twin.ui.layout import metric_rows, show_chart
from twin.ui.picker import load_chosen_run

SESSION_COLUMNS = {
    "start": utc_column("start"),
    "stop": utc_column("stop"),
    "energy (kWh, OCPP)": KWH_COLUMN,
    "verified (kWh)": KWH_COLUMN,
    "price": MONEY_COLUMN,
    "expected (EVCH)": EVCH_COLUMN,
    "minted (EVCH)": EVCH_COLUMN,
}


def main() -> None:
    st.title("Replay report")
    st.caption(f"The regulator's view of a run. {GENERATED_FROM}")
    audit = load_chosen_run(
        cached.audit, RunDirError, "Replaying {path}: verifying every signed reading…"
    )
    _verdict(audit)
    _exceptions(audit)
    _limits(audit)
    _differences(audit)
    for chart in charts(audit):
        show_chart(chart.figure, chart.empty_note, title=chart.title)
    _sessions(audit)
    _downloads(audit)


def _verdict(audit: Audit) -> None:
    if audit.reconciled:
        st.success("**Reconciled**: the frames, the CSMS and the ledger agree on every session.")
    else:
        st.error(
            f"**Not reconciled**: {plural(len(audit.differences), 'difference')} between the "
            "frames, the CSMS and the ledger (listed below)."
        )
    sessions = len(audit.sessions)
    verified = sessions - len(audit.exceptions)
    minted = sum(s.minted_raw or 0 for s in audit.sessions)
    earned = sum(s.expected_mint_raw for s in audit.sessions)
    compliant = sum(check.compliant for check in audit.limits)
    metric_rows(
        [
            ("OCPP frames", f"{audit.frames:,}", "recorded in ocpp_frames.jsonl"),
            ("Sessions", f"{sessions:,}", "rebuilt from the frames"),
            ("Verified", f"{verified:,} of {sessions:,}", share_text(verified, sessions)),
            ("Sites within the limit", f"{compliant} of {len(audit.limits)}", None),
            ("EVCH minted", evch_short(minted), evch_exact(minted)),
            ("EVCH earned", evch_short(earned), f"by verified energy, {evch_exact(earned)}"),
        ]
    )


def _exceptions(audit: Audit) -> None:
    st.subheader("Unverified sessions")
    if not audit.exceptions:
        st.success("None: every session's signed energy verified.")
        return
    st.warning(
        f"{plural(len(audit.exceptions), 'session')} whose energy could not be verified: "
        "nothing may be minted for them."
    )
    st.dataframe(
        pd.DataFrame(
            [(s.charger_id, s.transaction_ref, s.reason) for s in audit.exceptions],
            columns=["charger", "transaction", "reason"],
        ),
        hide_index=True,
    )


def _limits(audit: Audit) -> None:
    st.subheader("Grid-limit compliance")
    if not audit.limits:
        st.info("No site power was recorded: no grid limit could be checked.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                (
                    check.site_id,
                    "compliant" if check.compliant else "OVER THE LIMIT",
                    check.grid_limit_kw,
                    check.peak_kw,
                    check.intervals,
                    check.intervals_over,
                )
                for check in audit.limits
            ],
            columns=["site", "verdict", "limit (kW)", "peak (kW)", "intervals", "over"],
        ),
        hide_index=True,
    )


def _differences(audit: Audit) -> None:
    st.subheader("Differences")
    if audit.reconciled:
        st.success("None.")
        return
    st.dataframe(pd.DataFrame({"difference": audit.differences}), hide_index=True)


def _sessions(audit: Audit) -> None:
    st.subheader(f"Sessions ({len(audit.sessions):,})")
    rows = [
        {
            "#": number,  # as the energy chart numbers them
            "charger": s.charger_id,
            "transaction": s.transaction_ref,
            "CSMS session": s.session_id,
            "protocol": s.protocol,
            "start": s.started_at,
            "stop": s.stopped_at,
            "verification": str(s.verification),
            "reason": s.reason,
            "energy (kWh, OCPP)": None if s.energy_wh is None else s.energy_wh / 1000,
            "verified (kWh)": None if s.verified_energy_wh is None else s.verified_energy_wh / 1000,
            "price": None if s.cost_minor is None else major(s.cost_minor, s.currency),
            "currency": s.currency,
            "expected (EVCH)": evch(s.expected_mint_raw),
            "minted (EVCH)": None if s.minted_raw is None else evch(s.minted_raw),
            "not minted because": s.mint_note,
            "differences": "; ".join(s.differences),
        }
        for number, s in enumerate(audit.sessions, start=1)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config=SESSION_COLUMNS)


def _downloads(audit: Audit) -> None:
    st.subheader("The report")
    html, pdf = st.columns(2)
    _download(html, "report.html", lambda: render_html(audit), "text/html", ":material/download:")
    if find_browser() is None:
        pdf.caption(f"No PDF here: printing it needs headless Chromium ({INSTALL_HINT}).")
        return
    _download(
        pdf, "report.pdf", lambda: _pdf(audit), "application/pdf", ":material/picture_as_pdf:"
    )


def _download(
    column: DeltaGenerator, file_name: str, data: Callable[[], str | bytes], mime: str, icon: str
) -> None:
    # `data` runs only when clicked, and the click reruns nothing: a PDF takes Chromium seconds.
    column.download_button(
        f"Download {file_name}",
        data=data,
        file_name=file_name,
        mime=mime,
        on_click="ignore",
        icon=icon,
    )


def _pdf(audit: Audit) -> bytes:
    with tempfile.TemporaryDirectory(prefix="evch-report-") as out:
        files = write_report(audit, Path(out))
        if files.pdf is None:
            raise RuntimeError(f"no headless Chromium to print the report: {INSTALL_HINT}")
        return files.pdf.read_bytes()


main()
