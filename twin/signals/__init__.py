"""Grid and solar signals for the twin: real day-ahead prices and marginal emissions, replayed
by wall clock onto the scenario's dates, and clear-sky PV power from pvlib.

    grid.py      DayAheadPrices (EUR/MWh, hourly), MarginalEmissions (kg CO2/kWh, 5 min)
    solar.py     PvArray (AC power in W, Ineichen clear sky + PVWatts)
    timeline.py  step-signal lookup and the year mapping rules

Every signal answers ``at(moment)`` and ``series(start, end, step_s)`` (a pandas Series with
a UTC index); moments are timezone-aware.
"""

from twin.signals.grid import (
    CAISO_PGE_MOER_CSV,
    NL_DAY_AHEAD_CSV,
    DayAheadPrices,
    MarginalEmissions,
)
from twin.signals.solar import PvArray
from twin.signals.timeline import (
    SignalError,
    SignalOutOfRange,
    Timeline,
    sample_times,
    wall_clock_in_year,
)

__all__ = [
    "CAISO_PGE_MOER_CSV",
    "NL_DAY_AHEAD_CSV",
    "DayAheadPrices",
    "MarginalEmissions",
    "PvArray",
    "SignalError",
    "SignalOutOfRange",
    "Timeline",
    "sample_times",
    "wall_clock_in_year",
]
