"""Metered energy split over price intervals, in whole Wh that add up to the meter exactly.

    >>> energy_by_interval_wh(intervals, [(t0, 10_000), (t1, 12_500)])   # doctest: +SKIP
    [1_250, 1_250]

Between two consecutive readings the power is taken as constant, so each interval gets the
share of the register's increase proportional to the time it overlaps. Shares are apportioned
to whole Wh by the largest-remainder method (ties to the earlier interval), so the parts sum
to the last register minus the first, to the Wh.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from math import floor

from central_system.pricing.tariff import PriceInterval

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"times must be timezone-aware, got {moment.isoformat()}")
    return (moment - _EPOCH) // _MICROSECOND


def apportion(shares: Sequence[Fraction], total: int) -> list[int]:
    """Whole numbers close to ``shares`` (which sum to ``total``) that sum to ``total``."""
    parts = [floor(share) for share in shares]
    missing = total - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for index in by_remainder[:missing]:
        parts[index] += 1
    return parts


def energy_by_interval_wh(
    intervals: Sequence[PriceInterval], readings: Sequence[tuple[datetime, int]]
) -> list[int]:
    """The energy (Wh) delivered in each interval, from energy register readings.

    ``readings`` are ``(time, register_wh)`` in time order with a non-decreasing register; the
    intervals must be contiguous and cover the first to the last reading.
    """
    if len(readings) < 2:
        raise ValueError("need at least two meter readings (start and stop)")
    times = [_us(moment) for moment, _ in readings]
    registers = [operator.index(register) for _, register in readings]  # whole Wh, no floats
    for i in range(len(times) - 1):
        if times[i + 1] <= times[i]:
            raise ValueError("meter readings must be in strictly increasing time order")
        if registers[i + 1] < registers[i]:
            raise ValueError(
                f"the energy register goes down: {registers[i]} Wh then {registers[i + 1]} Wh"
            )
    bounds = [(_us(item.start), _us(item.end)) for item in intervals]
    if not bounds:
        raise ValueError("no intervals")
    for (_, end), (start, _) in pairwise(bounds):
        if start != end:
            raise ValueError("price intervals must be contiguous")
    if times[0] < bounds[0][0] or times[-1] > bounds[-1][1]:
        raise ValueError("the price intervals do not cover the meter readings")
    shares = [Fraction(0)] * len(bounds)
    reading = 0
    for index, (start, end) in enumerate(bounds):
        while reading < len(times) - 1 and times[reading + 1] <= start:
            reading += 1
        step = reading
        while step < len(times) - 1 and times[step] < end:
            t0, t1 = times[step], times[step + 1]
            overlap = min(t1, end) - max(t0, start)
            if overlap > 0:
                delta = registers[step + 1] - registers[step]
                shares[index] += Fraction(delta * overlap, t1 - t0)
            step += 1
    return apportion(shares, registers[-1] - registers[0])
