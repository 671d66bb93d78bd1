"""Step signals read from recorded data, and how a scenario's dates map onto the data's year.

A recorded signal covers one period (the Dutch prices 2019, the CAISO emissions May 2019), but
a scenario may run in another year. A moment is therefore looked up by its **wall clock**: its
month, day, hour and minute in ``scenario_zone`` (by default the data's own zone) are read as
the same wall-clock time in the data's zone, in the data's year. So 2024-05-10 18:00 in
Amsterdam uses the 2019-05-10 18:00 Amsterdam price; a Tehran site that passes
``scenario_zone="Asia/Tehran"`` gets the Dutch price of the same local hour (evening peak on
evening peak). Rules at the edges, all deterministic:

- 29 February maps to 28 February when the data's year is not a leap year.
- A wall-clock time that does not exist in the data's zone that year (the hour skipped when
  daylight saving time begins) is read with the offset before the change, i.e. one hour
  later; a repeated hour keeps the moment's ``fold``.
- When the mapped moment is just outside the data (e.g. 1 January 00:30 in Amsterdam, before
  the first UTC hour of the 2019 file), the same wall-clock time in the adjacent year is used
  if the data holds it (the file's last row, 2020-01-01 00:00 local).

Anything else outside the data raises :class:`SignalOutOfRange`.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd


class SignalError(ValueError):
    """A signal file that cannot be read, or a request the signal cannot answer."""

    code = "signal_error"


class SignalOutOfRange(SignalError):
    """The moment, mapped onto the data's year, is not covered by the data."""

    code = "signal_out_of_range"


def wall_clock_in_year(moment: datetime, year: int, source: ZoneInfo, target: ZoneInfo) -> datetime:
    """``moment``'s wall-clock time in ``source``, read in ``target`` in ``year``, as UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moment must be timezone-aware, got {moment.isoformat()}")
    local = moment.astimezone(source)
    day = local.day
    if local.month == 2 and day == 29 and not calendar.isleap(year):
        day = 28
    wall = local.replace(tzinfo=None).replace(year=year, day=day)
    return wall.replace(tzinfo=target, fold=local.fold).astimezone(UTC)


def epoch_s(moment: datetime) -> int:
    return int(moment.timestamp())


def sample_times(start: datetime, end: datetime, step_s: int) -> pd.DatetimeIndex:
    """``start, start + step_s, ...`` before ``end``, in UTC (empty when ``end <= start``)."""
    for value, label in ((start, "start"), (end, "end")):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{label} must be timezone-aware, got {value.isoformat()}")
    if isinstance(step_s, bool) or not isinstance(step_s, int) or step_s <= 0:
        raise ValueError(f"step_s must be a positive integer, got {step_s!r}")
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    whole, part = divmod(last - first, timedelta(seconds=step_s))
    count = max(0, whole + (1 if whole >= 0 and part else 0))
    return pd.date_range(first, periods=count, freq=pd.Timedelta(seconds=step_s))


class Timeline:
    """Sorted interval starts (UTC) of equal length ``resolution_s``, and the year mapping."""

    def __init__(
        self,
        starts_s: Sequence[int] | np.ndarray,
        resolution_s: int,
        data_zone: str,
        scenario_zone: str | None = None,
        name: str = "signal",
    ) -> None:
        self.starts_s = np.asarray(starts_s, dtype=np.int64)
        if self.starts_s.size == 0:
            raise SignalError(f"{name}: no data")
        if np.any(np.diff(self.starts_s) <= 0):
            raise SignalError(f"{name}: times must increase strictly")
        self.resolution_s = int(resolution_s)
        self.data_zone = ZoneInfo(data_zone)
        self.scenario_zone = ZoneInfo(scenario_zone) if scenario_zone else self.data_zone
        self.name = name
        local_years = Counter(
            datetime.fromtimestamp(int(s), UTC).astimezone(self.data_zone).year
            for s in self.starts_s
        )
        main = local_years.most_common(1)[0][0]
        self.data_year = main
        # the main year first, then its neighbours (for moments at the data's edges)
        self.years = [main, *sorted(set(local_years) - {main}), main + 1, main - 1]

    @property
    def first(self) -> datetime:
        return datetime.fromtimestamp(int(self.starts_s[0]), UTC)

    @property
    def end(self) -> datetime:
        """The end of the last interval (exclusive)."""
        return datetime.fromtimestamp(int(self.starts_s[-1]) + self.resolution_s, UTC)

    def _covering(self, t_s: int) -> int | None:
        index = int(np.searchsorted(self.starts_s, t_s, side="right")) - 1
        if index >= 0 and t_s < self.starts_s[index] + self.resolution_s:
            return index
        return None

    def index_at(self, moment: datetime) -> int:
        """The row whose interval holds ``moment``, mapped onto the data's year."""
        for year in dict.fromkeys(self.years):
            mapped = wall_clock_in_year(moment, year, self.scenario_zone, self.data_zone)
            index = self._covering(epoch_s(mapped))
            if index is not None:
                return index
        zone = self.data_zone
        mapped = wall_clock_in_year(moment, self.data_year, self.scenario_zone, zone)
        raise SignalOutOfRange(
            f"{self.name}: {moment.isoformat()} maps to {mapped.astimezone(zone):%Y-%m-%d %H:%M}"
            f" {zone.key}, outside the data ({self.first.astimezone(zone):%Y-%m-%d %H:%M} .. "
            f"{self.end.astimezone(zone):%Y-%m-%d %H:%M} {zone.key})"
        )

    def sample_times(self, start: datetime, end: datetime, step_s: int) -> pd.DatetimeIndex:
        return sample_times(start, end, step_s)

    def indices(self, times: pd.DatetimeIndex) -> np.ndarray:
        """:meth:`index_at` for every time."""
        return np.fromiter(
            (self.index_at(moment.to_pydatetime()) for moment in times),
            dtype=np.int64,
            count=len(times),
        )
