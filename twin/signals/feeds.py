"""The twin's signals as the central system's feeds (`central_system.signals`).

A forecast here is the signal itself, sampled once for the whole run (plus the planner's
look-ahead): the twin plays a perfect forecaster, which is what the recorded data allows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from central_system.signals import Interval

LOOK_AHEAD = timedelta(hours=24)


class SampledForecast:
    """A signal sampled every ``step_s`` over a window, answering ``forecast(start, end)``."""

    def __init__(self, series: pd.Series, step_s: int, scale: float = 1.0) -> None:
        self.step_s = step_s
        self._starts_s = np.array([int(t.timestamp()) for t in series.index], dtype=np.int64)
        values = series.to_numpy(dtype=float) * scale
        # Built once: the planner asks on every re-plan, for a day ahead.
        self._intervals: list[Interval] = [
            (
                datetime.fromtimestamp(int(start_s), UTC),
                datetime.fromtimestamp(int(start_s) + step_s, UTC),
                float(value),
            )
            for start_s, value in zip(self._starts_s, values, strict=True)
        ]

    def forecast(self, start: datetime, end: datetime) -> list[Interval]:
        first = np.searchsorted(self._starts_s, start.timestamp(), side="right") - 1
        last = np.searchsorted(self._starts_s, end.timestamp(), side="left")
        return self._intervals[max(int(first), 0) : int(last)]


def sampled(signal, start: datetime, end: datetime, step_s: int, scale: float = 1.0):
    """``signal.series`` over the run and the look-ahead after it, as a forecast feed."""
    return SampledForecast(signal.series(start, end + LOOK_AHEAD, step_s), step_s, scale)
