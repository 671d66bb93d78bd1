"""Power per site over virtual time, from every change of every EVSE's draw."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

import pandas as pd


class SitePowerLog:
    def __init__(self) -> None:
        # Each site's EVSEs, (charger id, EVSE id) -> W, and its total power as a step
        # function: (from this time on, W).
        self._draw_w: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
        self._steps: dict[str, list[tuple[float, float]]] = defaultdict(list)

    def set(self, at_s: float, site_id: str, charger_id: str, evse_id: int, power_w: float) -> None:
        draws, evse = self._draw_w[site_id], (charger_id, evse_id)
        if draws.get(evse, 0.0) == power_w:
            return
        draws[evse] = power_w
        steps = self._steps[site_id]
        if steps and steps[-1][0] == at_s:  # the last change at an instant wins
            steps.pop()
        steps.append((at_s, sum(draws.values())))  # summed afresh: no drift from +/- updates

    def peak_kw(self) -> dict[str, float]:
        """Highest instantaneous power of each site."""
        return {site: series.max() for site, series in self._site_steps().items()}

    def intervals(
        self,
        start: datetime,
        end_s: float,
        interval_s: float,
        limits_kw: dict[str, float],
        from_s: float = 0.0,
    ) -> pd.DataFrame:
        """Energy, mean and peak power of each site in each interval of `interval_s` from
        `from_s` (the time `start`) to `end_s`."""
        rows = []
        count = math.ceil((end_s - from_s) / interval_s)
        for site_id, steps in sorted(self._site_steps().items()):
            times, powers = steps.index.to_numpy(), steps.to_numpy()
            for n in range(count):
                lo = from_s + n * interval_s
                hi = min(lo + interval_s, end_s)
                energy_wh, peak_w = _integrate(times, powers, lo, hi)
                rows.append(
                    {
                        "site_id": site_id,
                        "interval_start": start + timedelta(seconds=lo - from_s),
                        "interval_end": start + timedelta(seconds=hi - from_s),
                        "energy_wh": energy_wh,
                        "mean_power_kw": energy_wh / ((hi - lo) / 3600.0) / 1000.0,
                        "peak_power_kw": peak_w / 1000.0,
                        "grid_limit_kw": limits_kw[site_id],
                    }
                )
        return pd.DataFrame(rows)

    def _site_steps(self) -> dict[str, pd.Series]:
        return {
            site_id: pd.Series(dict(steps)).sort_index() for site_id, steps in self._steps.items()
        }


def _integrate(times, powers, lo: float, hi: float) -> tuple[float, float]:
    """Energy (Wh) and peak (W) of a step function on [lo, hi)."""
    energy_ws, peak_w = 0.0, 0.0
    before = times <= lo
    level = powers[before][-1] if before.any() else 0.0
    cursor = lo
    inside = (times > lo) & (times < hi)
    for at, power in zip(times[inside], powers[inside], strict=True):
        energy_ws += level * (at - cursor)
        peak_w = max(peak_w, level)
        level, cursor = power, at
    energy_ws += level * (hi - cursor)
    peak_w = max(peak_w, level)
    return energy_ws / 3600.0, peak_w
