"""A session's reward class (off-peak, renewable) and its Green Credits, from what the central
system stored: the session's bill lines (energy per price interval), the site's tariff, the
site's load when each price was published, and the site's PV signal.

- off-peak: at least half of the session's energy fell in the tariff's cheapest time-of-use
  band for that day;
- renewable: at least half of its energy was covered by on-site PV. In each interval the PV
  covers ``min(1, pv / site load)`` of every session's draw (the site load measured when the
  interval's price was published, and at least the session's own mean draw); the covered
  energy is the session's renewable energy and earns as many Green Credits (1 credit per
  kWh, decimals 6: 1 raw per mWh).

Everything is read from stored data and the deterministic signals, so a retry after a restart
classifies the session the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from central_system.domain.model import ChargingSession, Site
from central_system.pricing import PricedInterval, TariffConfig, base_price_minor_per_kwh
from central_system.signals import Forecast, SiteFeeds
from central_system.store import repository as repo
from central_system.store.database import Database
from programs.proof_of_charge import RewardClass

RAW_PER_WH = 1_000  # Green Credits: 1 per kWh, decimals 6


@dataclass(frozen=True)
class SessionRewards:
    reward_class: RewardClass = RewardClass.NONE
    off_peak_wh: int = 0
    renewable_wh: int = 0

    @property
    def green_credit_raw(self) -> int:
        return self.renewable_wh * RAW_PER_WH


NO_REWARDS = SessionRewards()


def off_peak_wh(tariff: TariffConfig, lines: Sequence[PricedInterval]) -> int:
    """The energy of the lines in the day's cheapest time-of-use band (none on a day whose
    bands all cost the same: there is no off-peak to reward)."""
    total = 0
    for line in lines:
        weekend = tariff.is_weekend(line.start.astimezone(ZoneInfo(tariff.time_zone)).weekday())
        prices = [b.price_minor_per_kwh for b in tariff.bands if b.applies_to(weekend)]
        cheapest = min(prices)
        if cheapest < max(prices) and base_price_minor_per_kwh(tariff, line.start) == cheapest:
            total += int(line.energy_wh)
    return total


def renewable_wh(
    lines: Sequence[PricedInterval], pv_w: Forecast | None, site_load_w: Mapping[datetime, float]
) -> int:
    """The energy of the lines covered by on-site PV (rounded down to the Wh)."""
    if pv_w is None:
        return 0
    covered = Fraction(0)
    for line in lines:
        pv = _mean(pv_w.forecast(line.start, line.end), line.start, line.end)
        if pv <= 0 or int(line.energy_wh) <= 0:
            continue
        # The site's load when the price was published may not include this session's own
        # draw (e.g. it was the first to plug in): the load is at least the session's draw.
        seconds = int((line.end - line.start).total_seconds())
        own_w = Fraction(int(line.energy_wh) * 3600, seconds)
        load = max(Fraction(site_load_w.get(line.start, 0.0)), own_w)
        share = min(Fraction(1), pv / load)
        covered += Fraction(int(line.energy_wh)) * share
    return math.floor(covered)


def classify(energy_wh: int, off_peak: int, renewable: int) -> SessionRewards:
    reward = RewardClass.NONE
    if energy_wh > 0 and 2 * off_peak >= energy_wh:
        reward |= RewardClass.OFF_PEAK
    if energy_wh > 0 and 2 * renewable >= energy_wh:
        reward |= RewardClass.RENEWABLE
    return SessionRewards(reward, off_peak, renewable)


class RewardClassifier:
    """The rewards of stopped sessions, for the token service."""

    def __init__(self, db: Database, feeds: Callable[[str], SiteFeeds]) -> None:
        self._db = db
        self._feeds = feeds

    async def rewards(self, session: ChargingSession) -> SessionRewards:
        billed = await self._db.read(_bill_and_load, session)
        if billed is None:
            return NO_REWARDS
        site, lines, load = billed
        return classify(
            sum(int(line.energy_wh) for line in lines),
            off_peak_wh(site.tariff, lines),
            renewable_wh(lines, self._feeds(site.site_id).pv_w, load),
        )


def _bill_and_load(
    db: Session, session: ChargingSession
) -> tuple[Site, list[PricedInterval], dict[datetime, float]] | None:
    """The session's priced site, its bill lines and the site's load over them, in one read;
    None without a bill to classify."""
    site = repo.site_of_charger(db, session.charger_id)
    if site is None or site.tariff is None:
        return None  # an unpriced site has no bill lines to classify
    lines = repo.session_charges(db, session.session_id)
    if not lines:
        return None
    return site, lines, repo.site_load_w(db, site, lines[0].start, lines[-1].end)


def _mean(
    values: Sequence[tuple[datetime, datetime, float]], start: datetime, end: datetime
) -> Fraction:
    """The time-weighted mean of forecast intervals over [start, end) (0 where none)."""
    span = (end - start).total_seconds()
    total = Fraction(0)
    for v_start, v_end, value in values:
        overlap = (min(v_end, end) - max(v_start, start)).total_seconds()
        if overlap > 0:
            total += Fraction(value) * Fraction(overlap)
    return total / Fraction(span) if span > 0 else Fraction(0)
