"""The Streamlit app `evch ui` serves (`streamlit run twin/ui/app.py` too: see settings.py)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Not "pages/": Streamlit runs a pages/ folder beside the entry script as a v1 multipage app,
# its files in alphabetical order, and never calls this st.navigation.
VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_icon=":material/ev_station:", layout="wide")
st.navigation(
    [
        st.Page(VIEWS / "tokenomics.py", title="Tokenomics tuner", icon=":material/tune:"),
        st.Page(VIEWS / "run_explorer.py", title="Run explorer", icon=":material/monitoring:"),
        st.Page(VIEWS / "replay_report.py", title="Replay report", icon=":material/gavel:"),
        st.Page(VIEWS / "ledger_admin.py", title="Ledger admin", icon=":material/account_balance:"),
    ]
).run()
