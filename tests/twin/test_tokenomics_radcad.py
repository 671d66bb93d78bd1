"""Side by side with radCAD, a common token-engineering framework: the same simple model (the
engine's equations without staking) on the same random draws and schedules, path by path.

radCAD 0.14.0 runs in its own virtual environment (it pins numpy<1.26.4): the first run makes
``benchmarks/.radcad-venv`` with ``python -m venv`` and ``pip install``, which takes a while.
The radCAD model is ``benchmarks/radcad_model.py``; the venv, the inputs and the comparison are
``benchmarks/radcad_baseline.py``, shared with ``benchmarks/tokenomics_model.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.radcad_baseline import (
    COMPARED,
    TOLERANCE,
    Mismatch,
    RadcadRun,
    check,
    compare,
    run_radcad,
    simple_params,
)
from twin.tokenomics import TokenomicsParams, simulate

pytestmark = pytest.mark.timeout(900)  # the first run creates radCAD's venv

RUNS = 3
DAYS = 400  # past the team's 6-month cliff, into the vesting of R&D, marketing and team
CASES = {
    # the defaults: the treasury defends the peg in both directions
    "defaults": TokenomicsParams(),
    # a network 10,000 times larger without the peg: the rewards pool runs dry (the mint caps
    # bind), payers then buy their EVCH in the pool, and sells move the price freely
    "busy, no peg": TokenomicsParams().replace(
        {"demand.stations": 100_000.0, "peg.enabled": False}
    ),
}


@pytest.fixture(scope="module", params=list(CASES))
def radcad(request) -> RadcadRun:
    return run_radcad(simple_params(RUNS, DAYS, CASES[request.param]))


def test_radcad_runs_the_same_paths_as_the_engine(radcad: RadcadRun):
    differences = compare(simulate(radcad.params), radcad)

    assert [d.metric for d in differences] == list(COMPARED)
    check(differences)  # raises Mismatch, naming each metric over the tolerance
    assert max(d.max_rel for d in differences) <= TOLERANCE


def test_the_cases_reach_the_branches_they_are_for(radcad: RadcadRun):
    state, params = radcad.state, radcad.params
    if params.peg.enabled:
        usdc = np.diff(state["treasury_usdc"], axis=0)
        assert (usdc < 0).any() and (usdc > 0).any()  # bought EVCH below the band, sold above
        # drivers' rewards cover payments: what payers buy is the rounding of owed - paid
        assert (state["bought_to_pay_evch"] < 1e-6).all()
    else:
        assert (state["treasury_usdc"] == params.peg.treasury_usdc).all()
        rewards_total = params.cap_evch * params.allocations["user_rewards"].share
        assert np.isclose(state["rewards_minted_evch"][-1], rewards_total, rtol=1e-9).all()
        # once the pool is dry, payers short of EVCH buy it in the pool
        assert (state["bought_to_pay_evch"][-1] > 0).all()


def test_the_comparison_sees_a_slightly_different_model(radcad: RadcadRun):
    changed = radcad.params.replace(
        {"usage.redemption_rate_per_day": radcad.params.usage.redemption_rate_per_day * 1.001}
    )

    with pytest.raises(Mismatch, match="burned_evch"):
        check(compare(simulate(changed), radcad))
