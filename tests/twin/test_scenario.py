"""The scenario schema, its loader and the TOML line locator."""

from __future__ import annotations

import hashlib
import json
import textwrap
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from twin.scenario import (
    ChargerSpec,
    ExpandedCharger,
    KeyLines,
    Problem,
    Scenario,
    ScenarioError,
    expanded_charger_ids,
    format_path,
    load_scenario,
)

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
EV_MODELS = REPO / "scenarios" / "data" / "ev_models.json"

CALTECH_IDS = (
    ["CA-148", "CA-149", "CA-212", "CA-213"]
    + [f"CA-{n}" for n in range(303, 328)]
    + [f"CA-{n}" for n in range(489, 514)]
)

MODELS = {
    "Tesla Model 3": {
        "battery_capacity": 57.5,
        "max_ac_charge_power": 11,
        "max_dc_charge_power": 170,
        "number_of_registrations": 45545,
    },
    "Renault Zoe": {
        "battery_capacity": 52,
        "max_ac_charge_power": 22,
        "max_dc_charge_power": 50,
        "number_of_registrations": 12000,
    },
}

GOOD = """\
[scenario]
name = "test"
start = 2025-03-01T08:00:00
time_zone = "Europe/Berlin"
duration_h = 24
seed = 1

[[sites]]
id = "S1"
name = "Site one"
location = { latitude = 52.5, longitude = 13.4 }
currency = "EUR"
grid_limit_kw = 100

[[sites.chargers]]
id = "AC"
protocol = "1.6"
max_power_kw = 11
count = 10

[[sites.chargers]]
id = "DC"
protocol = "2.0.1"
evses = 2
max_power_kw = 50
current = "DC"

[ev_population]
models_file = "models.json"

[drivers]
count = 10

[arrivals]
kind = "generated"
rate_per_hour = [1.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
stay_h = { mean = 2, sd = 1 }
energy_kwh = { mean = 10, sd = 5, min = 1, max = 60 }
"""


def write(folder: Path, text: str, name: str = "scenario.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def write_models(folder: Path, name: str = "models.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(MODELS), encoding="utf-8")
    return path


def line_of(text: str, snippet: str) -> int:
    """The 1-based line of the only line containing ``snippet``."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if snippet in line]
    assert len(found) == 1, f"{snippet!r} is on lines {found}"
    return found[0]


def problems_of(path: Path) -> dict[str, Problem]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    by_location = {problem.location: problem for problem in caught.value.problems}
    assert len(by_location) == len(caught.value.problems), caught.value.report()
    return by_location


# -- the shipped scenarios -------------------------------------------------------------------


def test_quickstart_validates() -> None:
    scenario = load_scenario(SCENARIOS / "quickstart.toml").scenario
    chargers = [charger for _, charger in scenario.chargers()]
    assert len(chargers) == 10
    assert {charger.protocol for charger in chargers} == {"1.6", "2.0.1"}
    assert scenario.scenario.seed == 42
    # aware datetimes of one zone subtract as wall-clock times (25 h here): compare in UTC
    assert scenario.end_at.astimezone(UTC) - scenario.start_at.astimezone(UTC) == timedelta(
        hours=24
    )
    assert 40 <= sum(scenario.arrivals.rate_per_hour) <= 60
    assert scenario.ev_population.models_file == EV_MODELS
    assert scenario.drivers.unknown_token_share == pytest.approx(0.03)
    assert (scenario.timing.meter_interval_s, scenario.timing.heartbeat_interval_s) == (300, 3600)
    [fault] = scenario.faults
    assert fault.charger in {charger.charger_id for charger in chargers}
    assert fault.duration_min == 20
    assert 0 < fault.at_h < 24


def test_caltech_week_validates() -> None:
    scenario = load_scenario(SCENARIOS / "caltech_week.toml").scenario
    chargers = [charger for _, charger in scenario.chargers()]
    assert [charger.charger_id for charger in chargers] == CALTECH_IDS
    assert {(c.evses, c.max_power_kw, c.current) for c in chargers} == {(1, 7.0, "AC")}
    protocols = {charger.charger_id: charger.protocol for charger in chargers}
    assert protocols["CA-148"] == protocols["CA-303"] == "1.6"
    assert protocols["CA-489"] == protocols["CA-513"] == "2.0.1"
    assert scenario.start_at.isoformat() == "2019-06-10T00:00:00-07:00"
    assert scenario.end_at.isoformat() == "2019-06-17T00:00:00-07:00"
    arrivals = scenario.arrivals
    assert arrivals.kind == "sessions_csv"
    assert arrivals.path == SCENARIOS / "data" / "acn_caltech_2019-06-10_week.csv"
    assert (arrivals.start, arrivals.days) == (date(2019, 6, 10), 7)
    assert scenario.sites[0].currency == "USD"
    assert scenario.timing.meter_interval_s == 900


# -- the schema ------------------------------------------------------------------------------


def test_count_expands_to_zero_padded_ids(tmp_path: Path) -> None:
    write_models(tmp_path)
    scenario = load_scenario(write(tmp_path, GOOD)).scenario
    pairs = scenario.chargers()
    ids = [charger.charger_id for _, charger in pairs]
    assert ids == [f"AC-{n:02d}" for n in range(1, 11)] + ["DC"]
    assert pairs[0][1] == ExpandedCharger("AC-01", "S1", "1.6", 1, 11.0, "AC")
    assert pairs[-1][1] == ExpandedCharger("DC", "S1", "2.0.1", 2, 50.0, "DC")
    assert all(site.id == "S1" for site, _ in pairs)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, ["X"]), (3, ["X-1", "X-2", "X-3"]), (12, [f"X-{n:02d}" for n in range(1, 13)])],
)
def test_expanded_charger_ids(count: int, expected: list[str]) -> None:
    assert expanded_charger_ids("X", count) == expected
    spec = ChargerSpec(id="X", protocol="1.6", max_power_kw=7, count=count)
    assert [charger.charger_id for charger in spec.expand("S")] == expected


def test_defaults_and_time(tmp_path: Path) -> None:
    write_models(tmp_path)
    scenario = load_scenario(write(tmp_path, GOOD)).scenario
    assert (scenario.timing.meter_interval_s, scenario.timing.power_step_s) == (300, 300)
    assert scenario.ev_population.arrival_soc == (0.1, 0.6)
    assert scenario.ev_population.shares is None
    assert scenario.drivers.token_prefix == "DRIVER-"
    assert scenario.faults == []
    assert scenario.arrivals.stay_h.max is None
    assert scenario.start_at.isoformat() == "2025-03-01T08:00:00+01:00"
    # 2025-03-30 the clocks go forward in Berlin: 24 h of elapsed time end at 09:00 local
    text = GOOD.replace("2025-03-01T08:00:00", "2025-03-29T08:00:00")
    scenario = load_scenario(write(tmp_path, text)).scenario
    assert scenario.end_at.isoformat() == "2025-03-30T09:00:00+02:00"
    # aware datetimes of one zone subtract as wall-clock times (25 h here): compare in UTC
    assert scenario.end_at.astimezone(UTC) - scenario.start_at.astimezone(UTC) == timedelta(
        hours=24
    )


def test_offset_start_is_converted_to_the_zone(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = GOOD.replace("2025-03-01T08:00:00", "2025-03-01T07:00:00Z")
    scenario = load_scenario(write(tmp_path, text)).scenario
    assert scenario.start_at.isoformat() == "2025-03-01T08:00:00+01:00"
    assert str(scenario.start_at.tzinfo) == "Europe/Berlin"


def test_start_in_a_dst_gap_is_an_error(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = GOOD.replace("2025-03-01T08:00:00", "2025-03-30T02:30:00")
    problems = problems_of(write(tmp_path, text))
    assert "does not exist" in problems["scenario.start"].message
    assert problems["scenario.start"].line == line_of(text, "start = ")


def test_loaded_scenario_keeps_exact_text_and_hash(tmp_path: Path) -> None:
    write_models(tmp_path)
    raw = GOOD.replace("\n", "\r\n").encode()
    path = tmp_path / "crlf.toml"
    path.write_bytes(raw)
    loaded = load_scenario(path)
    assert loaded.text.encode() == raw
    assert loaded.sha256 == hashlib.sha256(raw).hexdigest()
    assert loaded.path == path.resolve()


def test_model_validate_without_loader_uses_base_dir(tmp_path: Path) -> None:
    import tomllib

    write_models(tmp_path / "elsewhere")
    data = tomllib.loads(GOOD)
    scenario = Scenario.model_validate(data, context={"base_dir": tmp_path / "elsewhere"})
    assert scenario.ev_population.models_file == (tmp_path / "elsewhere" / "models.json")
    with pytest.raises(ValidationError):
        Scenario.model_validate(data, context={"base_dir": tmp_path})


# -- relative paths --------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_scenario_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "deep" / "scenarios"
    write_models(folder / "data")
    (folder / "data" / "week.csv").write_text("arrival,departure\n", encoding="utf-8")
    text = (
        GOOD.replace('models_file = "models.json"', 'models_file = "data/models.json"')
        .split("[arrivals]")[0]
        .rstrip()
        + '\n\n[arrivals]\nkind = "sessions_csv"\npath = "data/week.csv"\n'
        "start = 2019-06-10\ndays = 7\n"
    )
    path = write(folder, text)
    monkeypatch.chdir(tmp_path)  # not the scenario's folder
    scenario = load_scenario(Path("deep/scenarios/scenario.toml")).scenario
    assert scenario.ev_population.models_file == folder / "data" / "models.json"
    assert scenario.ev_population.models_file.is_absolute()
    assert scenario.arrivals.path == folder / "data" / "week.csv"
    assert scenario.arrivals.site is None

    (folder / "data" / "week.csv").unlink()
    problems = problems_of(path)
    assert set(problems) == {"arrivals.path"}
    assert str(folder / "data" / "week.csv") in problems["arrivals.path"].message
    assert problems["arrivals.path"].line == line_of(text, "path = ")


def test_missing_models_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    problems = problems_of(path)
    assert set(problems) == {"ev_population.models_file"}
    assert "file not found" in problems["ev_population.models_file"].message
    assert problems["ev_population.models_file"].line == line_of(GOOD, "models_file")


def test_models_file_must_describe_each_model(tmp_path: Path) -> None:
    models = {**MODELS, "Mystery": {"battery_capacity": 40}}
    (tmp_path / "models.json").write_text(json.dumps(models), encoding="utf-8")
    problems = problems_of(write(tmp_path, GOOD))
    assert set(problems) == {"ev_population.models_file"}
    assert "'Mystery' lacks max_ac_charge_power" in problems["ev_population.models_file"].message

    (tmp_path / "models.json").write_text("[1, 2]", encoding="utf-8")
    problems = problems_of(write(tmp_path, GOOD))
    assert "JSON object of car models" in problems["ev_population.models_file"].message


def test_shares_naming_an_unknown_model(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = GOOD.replace(
        'models_file = "models.json"',
        'models_file = "models.json"\n'
        "[ev_population.shares]\n"
        '"Tesla Model 3" = 2\n'
        '"Renault Zoé" = 1\n'
        '"Flying Car" = 1\n',
    )
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {
        'ev_population.shares."Renault Zoé"',
        'ev_population.shares."Flying Car"',
    }
    zoe = problems['ev_population.shares."Renault Zoé"']
    assert zoe.line == line_of(text, "Renault Zoé")
    assert "did you mean 'Renault Zoe'" in zoe.message
    assert problems['ev_population.shares."Flying Car"'].line == line_of(text, "Flying Car")

    good_shares = text.replace('"Renault Zoé"', '"Renault Zoe"').replace('"Flying Car" = 1\n', "")
    scenario = load_scenario(write(tmp_path, good_shares)).scenario
    assert scenario.ev_population.shares == {"Tesla Model 3": 2.0, "Renault Zoe": 1.0}


# -- reporting every problem at once ---------------------------------------------------------

BAD = """\
[scenario]
name = "bad"
start = 2025-03-01T00:00:00
time_zone = "Mars/Olympus_Mons"
duration_h = 24
seed = 1

[timing]
meter_intervall_s = 60

[[sites]]
id = "S1"
name = "Site one"
location = { latitude = 52.5, longitud = 13.4 }
currency = "EUR"
grid_limit_kw = 100
chargers = [
    { id = "A", protocol = "1.6", max_power_kw = 11 },
    { id = "B", protocol = "2.0", max_power_kw = 22 },
]

[[sites]]
id = "S2"
name = "Site two"
location = { latitude = 52.5, longitude = 13.4 }
currency = "EUR"
grid_limit_kw = -5

[[sites.chargers]]
id = "C"
protocol = "2.0.1"
max_power_kw = 7

[[sites.chargers]]
id = "D"
protocol = "1.6"

[ev_population]
models_file = "models.json"

[drivers]
count = 10

[arrivals]
kind = "generated"
rate_per_hour = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
stay_h = { mean = 2, sd = 1 }
energy_kwh = { mean = 10, sd = 5, min = 20, max = 10 }

[[faults]]
kind = "disconnect"
charger = "A"
at_h = 1
duration_min = 5

[[faults]]
kind = "disconnect"
charger = "E"
at_h = 30
duration_min = 5
"""


def test_every_problem_is_reported_with_path_and_line(tmp_path: Path) -> None:
    write_models(tmp_path)
    path = write(tmp_path, BAD)
    problems = problems_of(path)
    expected_lines = {
        "scenario.time_zone": line_of(BAD, "Mars/Olympus_Mons"),
        "timing.meter_intervall_s": line_of(BAD, "meter_intervall_s"),
        "sites[0].location.longitud": line_of(BAD, "longitud ="),
        "sites[0].location.longitude": line_of(BAD, "longitud ="),  # missing: the inline table
        "sites[0].chargers[1].protocol": line_of(BAD, '"2.0",'),
        "sites[1].grid_limit_kw": line_of(BAD, "grid_limit_kw = -5"),
        "sites[1].chargers[1].max_power_kw": line_of(BAD, 'id = "D"') - 1,  # its [[header]]
        "arrivals.rate_per_hour[13]": line_of(BAD, "rate_per_hour"),
        "arrivals.energy_kwh.max": line_of(BAD, "energy_kwh"),
        "faults[1].charger": line_of(BAD, 'charger = "E"'),
        "faults[1].at_h": line_of(BAD, "at_h = 30"),
    }
    assert {location: p.line for location, p in problems.items()} == expected_lines

    messages = {location: p.message for location, p in problems.items()}
    assert "unknown time zone 'Mars/Olympus_Mons'" in messages["scenario.time_zone"]
    assert messages["timing.meter_intervall_s"] == "unknown key (did you mean 'meter_interval_s'?)"
    assert "did you mean 'longitude'" in messages["sites[0].location.longitud"]
    assert messages["sites[0].location.longitude"] == "required key is missing"
    assert "'1.6' or '2.0.1'" in messages["sites[0].chargers[1].protocol"]
    assert "(got '2.0')" in messages["sites[0].chargers[1].protocol"]
    assert "greater than 0" in messages["sites[1].grid_limit_kw"]
    assert "(got -5)" in messages["sites[1].grid_limit_kw"]
    assert messages["sites[1].chargers[1].max_power_kw"] == "required key is missing"
    assert "greater than or equal to 0" in messages["arrivals.rate_per_hour[13]"]
    assert "below min" in messages["arrivals.energy_kwh.max"]
    assert "no charger 'E' in any site" in messages["faults[1].charger"]
    assert "before the end of the run" in messages["faults[1].at_h"]

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    report = caught.value.report().splitlines()
    assert len(report) == len(expected_lines)
    assert str(caught.value) == caught.value.report()
    protocol_line = expected_lines["sites[0].chargers[1].protocol"]
    assert f"{path}:{protocol_line}: sites[0].chargers[1].protocol: Input should be" in "\n".join(
        report
    )
    lines = [int(line.removeprefix(f"{path}:").split(":")[0]) for line in report]
    assert lines == sorted(lines)  # in file order


def test_problems_inside_a_tagged_union_use_file_paths(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = GOOD.replace('kind = "generated"', 'kind = "generated"\nrate_per_hr = 3')
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {"arrivals.rate_per_hr"}
    assert problems["arrivals.rate_per_hr"].message == (
        "unknown key (did you mean 'rate_per_hour'?)"
    )

    text = GOOD.replace("stay_h = { mean = 2, sd = 1 }\n", "")
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {"arrivals.stay_h"}
    assert problems["arrivals.stay_h"].line == line_of(text, "[arrivals]")

    text = GOOD.replace('kind = "generated"', 'kind = "poisson"')
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {"arrivals.kind"}
    assert problems["arrivals.kind"].line == line_of(text, '"poisson"')
    assert "'generated', 'sessions_csv'" in problems["arrivals.kind"].message


def test_cross_section_checks(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = GOOD + textwrap.dedent(
        """
        [[sites]]
        id = "S1"
        name = "Same id"
        location = { latitude = 0, longitude = 0 }
        currency = "EUR"
        grid_limit_kw = 10
        chargers = [{ id = "AC-07", protocol = "1.6", max_power_kw = 3.7 }]
        """
    )
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {"sites[1].id", "sites[1].chargers[0].id"}
    assert "already used by sites[0]" in problems["sites[1].id"].message
    assert "'AC-07' is already used in site 'S1'" in problems["sites[1].chargers[0].id"].message
    assert problems["sites[1].chargers[0].id"].line == line_of(text, '"AC-07"')


def test_hardware_chargers(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = GOOD + textwrap.dedent(
        """
        [[hardware]]
        id = "lab-1"
        site = "S1"
        protocol = "1.6"
        max_power_kw = 7.4
        id_token = "HIL-CARD"
        """
    )
    scenario = load_scenario(write(tmp_path, text)).scenario
    ((site, real),) = scenario.hardware_chargers()
    assert site.id == "S1"
    assert real == ExpandedCharger("lab-1", "S1", "1.6", 1, 7.4, "AC", real=True)
    assert all(not spec.real for _, spec in scenario.chargers())  # emulated ones only


def test_hardware_problems_point_at_their_lines(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = GOOD + textwrap.dedent(
        """
        [[hardware]]
        id = "AC-03"
        site = "S2"
        protocol = "1.6"
        max_power_kw = 7.4
        id_token = "A-CARD-LONGER-THAN-20-CHARS"

        [[hardware]]
        id = "lab-2"
        site = "S1"
        protocol = "2.0"
        max_power_kw = 7.4
        id_token = "CARD"

        [[hardware]]
        id = "lab-2"
        site = "S1"
        protocol = "2.0.1"
        max_power_kw = 11
        id_token = "CARD"
        """
    )
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {
        "hardware[0].id",
        "hardware[0].site",
        "hardware[0].id_token",
        "hardware[1].protocol",
        "hardware[2].id",
    }
    assert "'AC-03' is already used by an emulated charger" in problems["hardware[0].id"].message
    assert problems["hardware[0].id"].line == line_of(text, 'id = "AC-03"')
    assert "no site 'S2'" in problems["hardware[0].site"].message
    assert problems["hardware[0].site"].line == line_of(text, 'site = "S2"')
    assert problems["hardware[0].id_token"].line == line_of(text, "LONGER-THAN-20")
    assert problems["hardware[1].protocol"].line == line_of(text, 'protocol = "2.0"')
    assert "already used by hardware[1]" in problems["hardware[2].id"].message


def test_hardware_needs_a_real_time_run_against_an_external_csms(tmp_path: Path) -> None:
    from twin.runner import RealtimeOptions, RunModeError, check_mode

    scenario = load_scenario(SCENARIOS / "hil_lab.toml").scenario
    assert [real.id for real in scenario.hardware] == ["lab-wallbox-1"]
    for mode in (None, RealtimeOptions(speed=60)):  # virtual time; real time, in-process CSMS
        with pytest.raises(RunModeError, match="--csms-url"):
            check_mode(scenario, mode)
    with pytest.raises(RunModeError, match="--api-url"):
        check_mode(scenario, RealtimeOptions(csms_url="ws://127.0.0.1:9000/ocpp"))
    external = RealtimeOptions(csms_url="ws://h:9000/ocpp", api_url="http://h:8000/api/v1")
    check_mode(scenario, external)
    with_tokens = scenario.model_copy(
        update={"tokens": scenario.tokens.model_copy(update={"enabled": True})}
    )
    with pytest.raises(RunModeError, match="tokens"):
        check_mode(with_tokens, external)


def test_replayed_site_must_exist(tmp_path: Path) -> None:
    write_models(tmp_path)
    (tmp_path / "week.csv").write_text("x\n", encoding="utf-8")
    text = GOOD.split("[arrivals]")[0] + (
        '[arrivals]\nkind = "sessions_csv"\npath = "week.csv"\nstart = 2019-06-10\ndays = 7\n'
        'site = "S2"\nenergy = "requested"\n'
    )
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {"arrivals.site"}
    assert "no site 'S2'" in problems["arrivals.site"].message


def test_value_ranges(tmp_path: Path) -> None:
    write_models(tmp_path)
    text = (
        GOOD.replace('currency = "EUR"', 'currency = "eur"')
        .replace('id = "DC"', 'id = "D C"')
        .replace("evses = 2", "evses = 17")
        .replace(
            'models_file = "models.json"', 'models_file = "models.json"\narrival_soc = [0.7, 0.2]'
        )
        .replace("count = 10\n\n[arrivals]", "count = 0\nunknown_token_share = 1.0\n\n[arrivals]")
        .replace("1, 1, 1]", "1, 1]")
    )
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {
        "sites[0].currency",
        "sites[0].chargers[1].id",
        "sites[0].chargers[1].evses",
        "ev_population.arrival_soc",
        "drivers.count",
        "drivers.unknown_token_share",
        "arrivals.rate_per_hour",
    }
    assert "at least 24 items" in problems["arrivals.rate_per_hour"].message
    assert problems["drivers.count"].line == line_of(text, "count = 0")


def test_missing_sections_are_reported_without_a_line(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, '[scenario]\nname = ""\n'))
    assert set(problems) == {
        "scenario.name",
        "scenario.start",
        "scenario.time_zone",
        "scenario.duration_h",
        "scenario.seed",
        "sites",
        "ev_population",
        "drivers",
        "arrivals",
    }
    assert problems["scenario.start"].line == 1  # the [scenario] header
    assert problems["scenario.name"].line == 2
    assert problems["sites"].line is None


# -- files that cannot be read ---------------------------------------------------------------


def test_toml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    text = '[scenario]\nname = "x"\nseed = = 4\n'
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    assert problem.line == 3
    assert problem.message.startswith("invalid TOML: ")
    assert caught.value.report().startswith(f"{path}:3: invalid TOML: ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == (Problem("", None, "no such file"),)
    assert caught.value.report() == f"{path}: no such file"
    assert caught.value.path == path


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[scenario]\nname = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == (Problem("", 2, "not UTF-8 text"),)


# -- the line locator ------------------------------------------------------------------------

LOCATOR_TEXT = """\
# a comment [not = a table]
title = "a # not a comment"   # a comment
owner.name = 'literal [x]'
"quoted key" = 1

[server]
hosts = [
    "alpha",  # first
    "omega",
]
limits = { cpu = 2, nested = { mem_gb = 4 }, list = [1, 2] }
text = \"\"\"
multi [line] = "no"
\"\"\"
when = 1979-05-27 07:32:00Z

[[fleet]]
id = "x"

[[fleet.cars]]
plate = "A"

[[fleet.cars]]
plate = "B"

[fleet.depot]
city = "C"

[[fleet]]
id = "y"
cars = [ { plate = "D" },
         { plate = "E", "odd key" = 'v' } ]
"""


def test_locator_finds_keys_tables_and_elements() -> None:
    lines = KeyLines.of(LOCATOR_TEXT)
    expected = {
        ("title",): 2,
        ("owner",): 3,
        ("owner", "name"): 3,
        ("quoted key",): 4,
        ("server",): 6,
        ("server", "hosts"): 7,
        ("server", "hosts", 0): 8,
        ("server", "hosts", 1): 9,
        ("server", "limits", "cpu"): 11,
        ("server", "limits", "nested", "mem_gb"): 11,
        ("server", "limits", "list", 1): 11,
        ("server", "text"): 12,
        ("server", "when"): 15,
        ("fleet",): 17,
        ("fleet", 0): 17,
        ("fleet", 0, "id"): 18,
        ("fleet", 0, "cars", 0): 20,
        ("fleet", 0, "cars", 0, "plate"): 21,
        ("fleet", 0, "cars", 1, "plate"): 24,
        ("fleet", 0, "depot"): 26,
        ("fleet", 0, "depot", "city"): 27,
        ("fleet", 1): 29,
        ("fleet", 1, "id"): 30,
        ("fleet", 1, "cars", 0, "plate"): 31,
        ("fleet", 1, "cars", 1): 32,
        ("fleet", 1, "cars", 1, "odd key"): 32,
    }
    assert {path: lines.exact(path) for path in expected} == expected
    assert ("multi [line]",) not in lines.lines
    assert ("not",) not in lines.lines


def test_locator_falls_back_to_the_nearest_ancestor() -> None:
    lines = KeyLines.of(LOCATOR_TEXT)
    assert lines.exact(("fleet", 0, "cars", 1, "colour")) is None
    assert lines.line(("fleet", 0, "cars", 1, "colour")) == 23  # the [[fleet.cars]] header
    assert lines.line(("server", "limits", "nested", "disk")) == 11
    assert lines.line(("nothing", "here")) is None


def test_locator_header_after_implicit_table() -> None:
    lines = KeyLines.of("[a.b.c]\nx = 1\n\n[a.b]\ny = 2\n")
    assert lines.exact(("a", "b", "c", "x")) == 2
    assert lines.exact(("a", "b")) == 4  # where its own header is
    assert lines.exact(("a",)) == 1


def test_locator_keeps_what_it_found_in_text_it_cannot_read() -> None:
    lines = KeyLines.of('a = 1\nb = "unterminated\n')
    assert lines.exact(("a",)) == 1


def test_format_path() -> None:
    assert format_path(("sites", 0, "chargers", 2, "protocol")) == "sites[0].chargers[2].protocol"
    assert format_path(("shares", "Tesla Model 3")) == 'shares."Tesla Model 3"'
    assert format_path(()) == ""
