"""The EVCH tokenomics model: parameters, the vectorised Monte Carlo engine, sweeps, and the
calibration of demand from the twin's run directories."""

from twin.tokenomics.engine import ModelError, simulate
from twin.tokenomics.params import TokenomicsParams
from twin.tokenomics.results import METRICS, SimulationResult

__all__ = ["METRICS", "ModelError", "SimulationResult", "TokenomicsParams", "simulate"]
