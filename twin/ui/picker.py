"""The run picker the run pages share: the runs under the runs root, newest first, or any
directory typed in. The choice follows the user from page to page; `load_chosen_run` gives a page
what it makes of the run, or stops it with the error."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TypeVar

import streamlit as st

from twin.ui.runs import NotARunError, RunInfo, list_runs, run_info
from twin.ui.settings import ui_settings

CHOSEN = "evch_run"  # session state: the path of the run last chosen, on any page
NO_RUN_YET = "No run yet: run `evch run scenarios/quickstart.toml`"

Loaded = TypeVar("Loaded")


def _chosen_run() -> RunInfo:
    """The run to show; with none to show, the empty state or the error, and the page stops."""
    root = ui_settings().runs
    left, right = st.columns([3, 2])
    typed = right.text_input(
        "…or a run directory",
        placeholder="/path/to/a/run",
        help="Any directory written by `evch run` (its --out)",
    ).strip()
    if typed:
        try:
            info = run_info(Path(typed).expanduser())
        except NotARunError as error:
            st.error(str(error))
            st.stop()
    elif runs := list_runs(root):
        paths = [run.path for run in runs]
        last = st.session_state.get(CHOSEN)
        info = left.selectbox(  # a RunInfo, as list_runs read it
            f"Run (under {root})",
            runs,
            index=paths.index(last) if last in paths else 0,
            format_func=lambda run: run.label,
        )
    else:
        left.info(f"{NO_RUN_YET} (nothing under {root.resolve()}), or type a run directory.")
        st.stop()
    st.session_state[CHOSEN] = info.path
    return info


def load_chosen_run(
    load: Callable[[RunInfo], Loaded], refusal: type[Exception], working: str = ""
) -> Loaded:
    """What `load` makes of the chosen run; a `refusal` it raises is shown as the page's error
    and the page stops. `working`: a spinner's text while it loads (`{path}`: the run's)."""
    info = _chosen_run()
    try:
        with st.spinner(working.format(path=info.path)) if working else nullcontext():
            return load(info)
    except refusal as error:
        st.error(str(error))
        st.stop()
