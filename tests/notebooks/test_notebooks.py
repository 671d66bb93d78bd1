"""The analyst notebooks (notebooks/) run top to bottom on small inputs, in a kernel on this
interpreter, and leave what they promise: their figures, the sweep's full grid, a parameters
file the token service loads, a run's figures that agree with its manifest.

Each notebook's first code cell holds its parameters (tagged ``parameters``, papermill-style);
the tests rewrite it with small inputs, append one cell that prints what they check as JSON,
and execute the notebook with nbclient. ipykernel's ``python3`` kernelspec needs no
``ipykernel install``: jupyter_client starts it with ``sys.executable``.
"""

from __future__ import annotations

import ast
import itertools
import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from central_system.tokens.settings_file import load_token_settings
from twin.tokenomics.calibrate import calibrate
from twin.tokenomics.params_file import load_params

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "python3"
PLOTLY = "application/vnd.plotly.v1+json"
CELL_TIMEOUT_S = 240
REPORT_MARK = "notebook-report:"


def read(name: str) -> NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=nbformat.NO_CONVERT)


def parameters_cell(notebook: NotebookNode) -> NotebookNode:
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged `parameters`"
    return tagged[0]


def with_parameters(notebook: NotebookNode, values: dict[str, object]) -> None:
    """Rewrite the parameters cell's one-line assignments of ``values``' names."""
    cell = parameters_cell(notebook)
    lines = cell.source.splitlines()
    assigned = {}
    for statement in ast.parse(cell.source).body:
        assert isinstance(statement, ast.Assign) and statement.lineno == statement.end_lineno, (
            f"the parameters cell holds one-line assignments only: {lines[statement.lineno - 1]}"
        )
        assigned[statement.targets[0].id] = statement.lineno - 1
    unknown = set(values) - set(assigned)
    assert not unknown, f"the notebook has no parameter {', '.join(sorted(unknown))}"
    for name, value in values.items():
        lines[assigned[name]] = f"{name} = {value!r}"
    cell.source = "\n".join(lines)


def execute(name: str, parameters: dict[str, object], report: str) -> tuple[NotebookNode, dict]:
    """The notebook executed with ``parameters``, and ``report`` (an expression over its
    namespace: a dict, JSON-able) evaluated after its last cell."""
    notebook = read(name)
    with_parameters(notebook, parameters)
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            f"import json as _json\nimport sys as _sys\n"
            f"_report = {{**({report}), 'executable': _sys.executable}}\n"
            f"print({REPORT_MARK!r} + _json.dumps(_report, default=str))"
        )
    )
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the working directory
    )
    client.execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    values = json.loads(printed.split(REPORT_MARK, 1)[1])
    assert values.pop("executable") == sys.executable, "the kernel runs this interpreter"
    return notebook, values


def figure_cells(notebook: NotebookNode) -> set[str]:
    """The ids of the cells that displayed a plotly figure."""
    return {
        cell.id
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if PLOTLY in output.get("data", {})
    }


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_kept_clean(path: Path):
    """Committed without outputs, parameters first, on the python3 kernel."""
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0] is parameters_cell(notebook)
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{cell.id}: clear outputs"
    assert notebook.metadata.kernelspec.name == KERNEL


def test_tokenomics_exploration(quickstart_run: Path, tmp_path: Path):
    redemption, band = [0.005, 0.02], [0.02, 0.05, 0.1]
    params_out = tmp_path / "evch_tokenomics.toml"
    notebook, found = execute(
        "tokenomics_exploration.ipynb",
        {
            "RUN_DIR": str(quickstart_run),
            "PATHS": 50,
            "YEARS": 1,
            "SWEEP_REDEMPTION": redemption,
            "SWEEP_BAND": band,
            "PARAMS_OUT": str(params_out),
        },
        """dict(
            paths=result.paths,
            days=result.days,
            grid=swept.grid[list(grid)].values.tolist(),
            heat_maps=sorted(heat_figures),
            ab=ab_table.columns.tolist(),
        )""",
    )
    assert (found["paths"], found["days"]) == (50, 365)
    assert found["grid"] == [list(point) for point in itertools.product(redemption, band)]
    assert found["heat_maps"] == ["burned_evch", "peg_held_share"]
    assert found["ab"] == ["A", "B", "B - A"]
    assert {"unlock", "fan", "fan-supply", "fan-treasury", "ab-chart", "heat"} <= figure_cells(
        notebook
    )
    # The exported file: the token service loads it, and its [model] is set A, whose demand
    # is the quickstart run's.
    settings, peg = load_token_settings(params_out)
    assert settings.rates.mint_rate_raw_per_kwh == 1_000_000
    assert (settings.rates.driver_bps, settings.rates.operator_bps) == (6_667, 3_333)
    assert [tier.discount_bps for tier in settings.tiers] == [500, 1_000, 2_000]
    assert peg is not None
    exported = load_params(params_out.read_text(encoding="utf-8"))
    assert exported.demand == calibrate([quickstart_run]).demand
    assert exported.simulation.paths == 50


def test_run_analysis(quickstart_run: Path):
    notebook, found = execute("run_analysis.ipynb", {"RUN_DIR": str(quickstart_run)}, "findings")
    manifest = json.loads((quickstart_run / "manifest.json").read_text(encoding="utf-8"))
    tokens = manifest["tokens"]
    assert (
        found["sessions"]
        == manifest["sessions"]
        == len(pd.read_parquet(quickstart_run / "sessions.parquet"))
    )
    assert found["energy_kwh"] == pytest.approx(manifest["energy_kwh"], abs=1e-3)
    assert found["peak_kw"] == max(manifest["peak_kw"].values())
    assert found["intervals_over_limit"] == 0
    assert found["reconciled"] is True
    assert found["verified_share"] == 1.0
    # Minted per session, summed, is what the ledger minted; verified energy of drivers whose
    # account is still frozen (KYC) is not minted yet; a base session earns 1 EVCH per kWh.
    assert found["minted_evch"] == pytest.approx(tokens["minted_raw"] / 10**6, abs=1e-6)
    assert found["unminted_verified_sessions"] == tokens["sessions_blocked"]
    assert found["base_evch_per_kwh"] == pytest.approx(1.0, abs=1e-6)
    assert {"power", "distributions", "prices", "mint", "flows"} <= figure_cells(notebook)
