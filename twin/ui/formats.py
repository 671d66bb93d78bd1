"""Numbers for the views' tables: kept numeric so that a column sorts; written as the report
writes them (twin/report/formats.py)."""

from __future__ import annotations

import streamlit as st

from central_system.pricing import CURRENCIES
from twin.report.formats import DEFAULT_MINOR_EXPONENT, evch, evch_text


def major(amount_minor: int, currency: str | None) -> float:
    """An amount in minor units of `currency` in major units (ISO 4217 exponent)."""
    return amount_minor / 10 ** CURRENCIES.get(currency or "", DEFAULT_MINOR_EXPONENT)


def evch_short(amount_raw: int) -> str:
    """A raw token amount in EVCH to the cent, for a metric (its help gives every decimal)."""
    return f"{evch(amount_raw):,.2f} EVCH"


def evch_exact(amount_raw: int) -> str:
    return f"exactly {evch_text(amount_raw)} EVCH"


def utc_column(label: str) -> st.column_config.DatetimeColumn:
    return st.column_config.DatetimeColumn(f"{label} (UTC)", format="YYYY-MM-DD HH:mm:ss")


KWH_COLUMN = st.column_config.NumberColumn(format="%.3f")
EVCH_COLUMN = st.column_config.NumberColumn(format="%.6f")
MONEY_COLUMN = st.column_config.NumberColumn(format="localized")
