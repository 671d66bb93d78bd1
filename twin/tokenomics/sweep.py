"""Parameter sweeps over a full grid: every combination of the values given, not zipped.

All points run in one vectorised simulation per batch (points x paths at most
``max_batch_paths``), and each point is reduced to its P10/P50/P90 bands and key figures
before the next batch, so a sweep of many points needs no more memory than one batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.tokenomics.engine import shocks, simulate
from twin.tokenomics.params import TokenomicsParams
from twin.tokenomics.results import (
    METRICS,
    QUANTILES,
    SimulationResult,
    key_figures,
    quantiles,
)

MAX_BATCH_PATHS = 4_000


@dataclass(frozen=True)
class SweepResult:
    grid: pd.DataFrame  # one row per point: the swept values, then its key figures
    bands: dict[str, np.ndarray]  # metric -> (points, len(QUANTILES), days)
    dates: pd.DatetimeIndex

    def band(self, metric: str, point: int) -> pd.DataFrame:
        values = self.bands[metric][point]
        return pd.DataFrame(
            {f"p{q}": row for q, row in zip(QUANTILES, values, strict=True)}, index=self.dates
        )


def grid_points(
    base: TokenomicsParams, grid: Mapping[str, Sequence[object]]
) -> list[TokenomicsParams]:
    """Every combination of the grid's values (the last parameter varies fastest)."""
    if not grid:
        return [base]
    for path, values in grid.items():
        if not values:
            raise ValueError(f"the sweep gives no value for {path}")
        base.get(path)  # an unknown path fails here, before anything runs
    return [
        base.replace(dict(zip(grid, combo, strict=True)))
        for combo in itertools.product(*grid.values())
    ]


def sweep(
    base: TokenomicsParams,
    grid: Mapping[str, Sequence[object]],
    *,
    max_batch_paths: int = MAX_BATCH_PATHS,
    on_point: Callable[[int], None] | None = None,
) -> SweepResult:
    """Run ``base`` at every point of ``grid`` (dotted parameter path -> values)."""
    points = grid_points(base, grid)
    per_batch = max(1, max_batch_paths // base.simulation.paths)
    # Batches share the base's draws, drawn once, unless the grid varies the simulation itself.
    same_run = not any(path.startswith("simulation.") for path in grid)
    draws = shocks(base.simulation) if same_run else None
    rows: list[dict[str, object]] = []
    bands: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    result: SimulationResult | None = None
    for start in range(0, len(points), per_batch):
        batch = points[start : start + per_batch]
        result = simulate(batch, draws=draws)
        for i, point in enumerate(batch):
            for name in METRICS:
                bands[name].append(quantiles(result.path(name, i)))
            rows.append({path: point.get(path) for path in grid} | key_figures(result, i))
            if on_point is not None:
                on_point(start + i)
    assert result is not None  # grid_points gives at least one point
    return SweepResult(
        grid=pd.DataFrame(rows),
        bands={name: np.stack(values) for name, values in bands.items()},
        dates=result.dates,
    )
