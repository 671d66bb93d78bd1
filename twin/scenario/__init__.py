"""Scenario files: the TOML schema engineers write (:mod:`.schema`) and its loader (:mod:`.loader`).

from twin.scenario import load_scenario

loaded = load_scenario("scenarios/quickstart.toml")
for site, charger in loaded.scenario.chargers():
    ...
"""

from twin.scenario.loader import (
    LoadedScenario,
    Problem,
    ScenarioError,
    load_scenario,
    validation_problems,
)
from twin.scenario.locate import KeyLines, format_path
from twin.scenario.schema import (
    ChargerSpec,
    Distribution,
    Drivers,
    EvPopulation,
    ExpandedCharger,
    Fault,
    GeneratedArrivals,
    HardwareCharger,
    Location,
    Scenario,
    ScenarioMeta,
    SessionsCsvArrivals,
    Site,
    Timing,
    expanded_charger_ids,
)

__all__ = [
    "ChargerSpec",
    "Distribution",
    "Drivers",
    "EvPopulation",
    "ExpandedCharger",
    "Fault",
    "GeneratedArrivals",
    "HardwareCharger",
    "KeyLines",
    "LoadedScenario",
    "Location",
    "Problem",
    "Scenario",
    "ScenarioError",
    "ScenarioMeta",
    "SessionsCsvArrivals",
    "Site",
    "Timing",
    "expanded_charger_ids",
    "format_path",
    "load_scenario",
    "validation_problems",
]
