"""Page layout the views share."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from twin.report.charts import CONFIG

METRICS_PER_ROW = 4  # wider rows cut values such as "42 of 42 (100.0 %)"


def metric_rows(metrics: Sequence[tuple[str, str, str | None]]) -> None:
    """(label, value, help) as st.metric, in rows of METRICS_PER_ROW."""
    for first in range(0, len(metrics), METRICS_PER_ROW):
        columns = st.columns(METRICS_PER_ROW)
        for column, (label, value, help_text) in zip(
            columns, metrics[first : first + METRICS_PER_ROW], strict=False
        ):
            column.metric(label, value, help=help_text)


def show_chart(figure: go.Figure | None, empty_note: str, *, title: str | None = None) -> None:
    """The figure under `title`, or `empty_note` where there is nothing to draw (None)."""
    if title is not None:
        st.subheader(title)
    if figure is None:
        st.info(empty_note)
    else:
        st.plotly_chart(figure, config=CONFIG)
