"""When each allocation unlocks: the deterministic side of the model, per day and point.

An allocation unlocks its ``tge_share`` at launch and the rest linearly over ``vesting_months``
from launch, none of it before ``cliff_months`` (at the cliff, what has accrued unlocks at once).
The two energy allocations (user rewards, operators) are minted by Proof-of-Charge, so their
schedule is a ceiling on what is mintable by a date; the liquidity allocation goes to the
treasury; every other allocation goes to its holders.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twin.tokenomics.params import (
    DAYS_PER_MONTH,
    LIQUIDITY,
    OPERATORS,
    REWARDS,
    Allocation,
    TokenomicsParams,
)


class Schedules:
    """Arrays of shape (days, points, 1), EVCH: cumulative (``*_cap``, ``vested``,
    ``released``) or released that day (``liquidity``, ``to_holders``, ``sold``)."""

    def __init__(self, points: Sequence[TokenomicsParams], days: int) -> None:
        t = np.arange(days, dtype=float).reshape(-1, 1, 1)

        def per_point(values: Sequence[float]) -> np.ndarray:
            return np.array(values, dtype=float).reshape(1, -1, 1)

        def unlocked(name: str) -> np.ndarray:
            allocations = [p.allocations[name] for p in points]
            size = per_point(
                [p.cap_evch * a.share for p, a in zip(points, allocations, strict=True)]
            )
            return size * unlocked_fraction(allocations, t)

        def daily(cumulative: np.ndarray) -> np.ndarray:
            return np.diff(cumulative, axis=0, prepend=0)

        self.rewards_cap = unlocked(REWARDS)
        self.operators_cap = unlocked(OPERATORS)
        self.rewards_total = np.array([p.cap_evch * p.allocations[REWARDS].share for p in points])
        self.liquidity = daily(unlocked(LIQUIDITY))
        holders = [
            name for name in points[0].allocations if name not in (REWARDS, OPERATORS, LIQUIDITY)
        ]
        self.vested = np.zeros((days, len(points), 1))
        self.sold = np.zeros((days, len(points), 1))
        for name in holders:
            cumulative = unlocked(name)
            self.vested += cumulative
            self.sold += daily(cumulative) * per_point(
                [p.allocations[name].sell_share for p in points]
            )
        self.to_holders = daily(self.vested)
        # issued outside Proof-of-Charge: to holders and to the treasury
        self.released = self.vested + np.cumsum(self.liquidity, axis=0)


def unlocked_fraction(allocations: Sequence[Allocation], t: np.ndarray) -> np.ndarray:
    """The share of each allocation unlocked by day ``t``: (len(t), len(allocations), 1)."""

    def column(values: list[float]) -> np.ndarray:
        return np.array(values, dtype=float).reshape(1, -1, 1)

    tge = column([a.tge_share for a in allocations])
    cliff = column([a.cliff_months * DAYS_PER_MONTH for a in allocations])
    vesting = column([a.vesting_months * DAYS_PER_MONTH for a in allocations])
    linear = np.where(vesting > 0, np.minimum(t / np.where(vesting > 0, vesting, 1), 1), 1)
    linear = np.where(t >= cliff, linear, 0)
    return tge + (1 - tge) * linear
