"""What the run pages compute from a run, cached per run directory and its files' stamp (a new
run in the same directory is read afresh)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from twin.replay import Audit, replay
from twin.ui.ledger_history import LedgerHistory, read_ledger_history
from twin.ui.runs import RunData, RunInfo, load_run

RUNS_KEPT = 8  # each entry is a whole run in memory

# `stamp` goes unread in each: it is there to be part of the cache key.


@st.cache_data(show_spinner=False, max_entries=RUNS_KEPT)
def _run_data(path: str, stamp: int) -> RunData:
    return load_run(Path(path))


@st.cache_data(show_spinner=False, max_entries=RUNS_KEPT)
def _audit(path: str, stamp: int) -> Audit:
    return replay(Path(path))


@st.cache_data(show_spinner=False, max_entries=RUNS_KEPT)
def _ledger_history(path: str, stamp: int, _run: RunData) -> LedgerHistory:
    return read_ledger_history(_run)  # `_run`, by its leading "_", is not part of the key


def run_data(info: RunInfo) -> RunData:
    """The run's files, loaded; raises NotARunError."""
    return _run_data(str(info.path), info.stamp)


def audit(info: RunInfo) -> Audit:
    """The replay of the run; raises twin.replay.RunDirError."""
    return _audit(str(info.path), info.stamp)


def ledger_history(run: RunData) -> LedgerHistory:
    """The run's EVCH history (a run with tokens); raises what a damaged csms.sqlite raises."""
    return _ledger_history(str(run.info.path), run.info.stamp, run)
