"""Outside signals a site can be given: a wholesale price, on-site PV and grid carbon intensity.

The central system consumes them through these protocols only. In a twin run they replay
recorded data (twin/signals); in production they would be feeds from a market operator, the
site's inverter and a carbon-intensity service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from central_system.pricing import WholesalePriceSignal

Interval = tuple[datetime, datetime, float]


class Forecast(Protocol):
    """Values over time as ``(start, end, value)`` intervals covering ``[start, end)``."""

    def forecast(self, start: datetime, end: datetime) -> Sequence[Interval]: ...


@dataclass(frozen=True)
class SiteFeeds:
    """The signals of one site; each is optional."""

    wholesale: WholesalePriceSignal | None = None  # priced into the tariff's wholesale share
    pv_w: Forecast | None = None  # on-site PV output (W), for renewable_following
    carbon_g_per_kwh: Forecast | None = None  # grid marginal emissions, for renewable_following


NO_FEEDS = SiteFeeds()
