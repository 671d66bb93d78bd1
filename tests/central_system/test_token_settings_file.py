"""The token settings file: what the tokenomics tuner exports and the token service loads
(`evch serve --token-settings`, `evch validator --token-settings`, a scenario's
`[tokens] settings_file`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from solders.pubkey import Pubkey
from typer.testing import CliRunner

from central_system.ledger import RpcLedger
from central_system.payments import EvchPeg, PegBasis, SettleIn
from central_system.tokens.bootstrap import TokenSettings
from central_system.tokens.settings_file import (
    TokenSettingsError,
    dump_token_settings,
    load_token_settings,
)
from evch.cli import app
from programs import proof_of_charge as poc
from programs import staking
from programs.localnet import LocalnetServer
from programs.proof_of_charge import ConfigState, Rates
from programs.staking import Tier
from tests.conftest import free_port
from tests.evch_process import evch
from tests.twin.acn_files import acn_row, write_sessions_csv
from twin.replay.ledger_log import read_ledger
from twin.runner import run_scenario
from twin.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
EV_MODELS = ROOT / "scenarios" / "data" / "ev_models.json"
DOUBLE_RATE = Rates(mint_rate_raw_per_kwh=2_000_000, driver_bps=7_000, operator_bps=3_000)
DOUBLE_RATE_FILE = """
[model]                 # the tuner's own table: not the token service's business
horizon_months = 36

[token_service]
mint_rate_raw_per_kwh = 2_000_000
driver_bps = 7_000
operator_bps = 3_000
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(TokenSettingsError) as refused:
        load_token_settings(text)
    return [str(problem) for problem in refused.value.problems]


@pytest.mark.parametrize(
    ("settings", "peg"),
    [
        (TokenSettings(), None),
        (
            TokenSettings(
                rates=DOUBLE_RATE,
                transfer_fee_bps=0,
                maximum_fee_raw=0,
                min_lock_s=0,
                max_lock_s=3_600,
                tiers=(),
                metadata_uri='https://evch.example/meta.json?q="x"',
            ),
            EvchPeg(PegBasis.USD, Decimal("0.125"), settle_in=SettleIn.USDC),
        ),
    ],
)
def test_a_dump_loads_back_to_the_same_settings(settings, peg):
    text = dump_token_settings(settings, peg)
    assert load_token_settings(text) == (settings, peg)
    assert "# raw EVCH per verified kWh" in text  # units named beside the values


def test_other_tables_are_ignored_and_missing_keys_take_the_defaults(tmp_path: Path):
    path = tmp_path / "tuned.toml"
    path.write_text(DOUBLE_RATE_FILE)
    settings, peg = load_token_settings(path)
    assert settings == TokenSettings(rates=DOUBLE_RATE)
    assert peg is None


BAD_FIELDS = [
    ("driver_bps = 6_000\noperator_bps = 5_000", "token_service.operator_bps: driver_bps +"),
    ("mint_rate_raw_per_kwh = 0", "token_service.mint_rate_raw_per_kwh: Input should be"),
    ('mint_rate_raw_per_kwh = "1000"', "token_service.mint_rate_raw_per_kwh: Input should"),
    ("off_peak_multiplier_bps = 9_000", "token_service.off_peak_multiplier_bps:"),
    ("rewards_cap_raw = 18_446_744_073_709_551_616", "token_service.rewards_cap_raw:"),
    ("transfer_fee_bps = 10_001", "token_service.transfer_fee_bps:"),
    ("min_lock_s = 10\nmax_lock_s = 5\ntiers = []", "token_service.min_lock_s: above max"),
    ("drivers_bps = 1", "token_service.drivers_bps: unknown key (did you mean 'driver_bps'?)"),
    (
        "tiers = [{ min_amount_raw = 5, min_lock_s = 0, discount_bps = 500 },"
        " { min_amount_raw = 1, min_lock_s = 0, discount_bps = 900 }]",
        "token_service.tiers[1].min_amount_raw: tiers ascend",
    ),
    (
        "tiers = [{ min_amount_raw = 1, min_lock_s = 0, discount_bps = 500 },"
        " { min_amount_raw = 5, min_lock_s = 0, discount_bps = 500 }]",
        "token_service.tiers[1].discount_bps: tiers ascend",
    ),
    (
        "tiers = [{ min_amount_raw = 1, min_lock_s = 0, discount_bps = 10_001 }]",
        "token_service.tiers[0].discount_bps:",
    ),
    (
        "tiers = [" + "{ min_amount_raw = 1, min_lock_s = 0, discount_bps = 1 }," * 9 + "]",
        "token_service.tiers: Tuple should have at most 8 items",
    ),
    ('[token_service.peg]\nbasis = "usd"', "token_service.peg.usd_per_evch: a usd peg needs"),
    ("[token_service.peg]\nusd_per_evch = 0.25", "token_service.peg.usd_per_evch: write the"),
    ('[token_service.peg]\nsettle_in = "eur"', "token_service.peg.settle_in: Input should"),
]


@pytest.mark.parametrize(
    ("table", "expected"), BAD_FIELDS, ids=[expected.split(":")[0] for _, expected in BAD_FIELDS]
)
def test_each_bad_field_is_named(table: str, expected: str):
    problems = problems_of(f"[token_service]\n{table}\n")
    assert any(problem.startswith(expected) for problem in problems), problems


def test_bad_toml_is_located_and_a_missing_table_is_said(tmp_path: Path):
    assert problems_of("[token_service]\ndriver_bps = = 1\n") == [
        "line 2: invalid TOML: Invalid value (column 14)"
    ]
    assert problems_of("[model]\nx = 1\n") == [
        "no [token_service] table (the settings the token service loads)"
    ]
    with pytest.raises(TokenSettingsError, match=r"missing\.toml: no such file"):
        load_token_settings(tmp_path / "missing.toml")


def test_settings_the_loader_would_refuse_are_not_dumped():
    descending = (Tier(10, 0, 900), Tier(5, 0, 500))
    with pytest.raises(TokenSettingsError, match=r"tiers\[1\]\.min_amount_raw"):
        dump_token_settings(TokenSettings(tiers=descending))


# -- a scenario's [tokens] settings_file --------------------------------------------------------


def small_scenario(tmp_path: Path, tokens: str) -> Path:
    """One 2.0.1 charger, one driver, one 6 kWh session, tokens on."""
    write_sessions_csv(tmp_path / "sessions.csv", acn_row("08:00:00", "10:00:00", 6.0, "NEW", 1))
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        f"""
[scenario]
name = "settings-file"
start = 2019-06-10T07:00:00
time_zone = "America/Los_Angeles"
duration_h = 4
seed = 1

[[sites]]
id = "lot"
name = "Lot"
location = {{ latitude = 34.1, longitude = -118.1 }}
currency = "USD"
grid_limit_kw = 100
chargers = [{{ id = "NEW", protocol = "2.0.1", max_power_kw = 7 }}]

[ev_population]
models_file = "{EV_MODELS}"
shares = {{ "Tesla Model 3" = 1.0 }}

[drivers]
count = 1

[arrivals]
kind = "sessions_csv"
path = "sessions.csv"
start = 2019-06-10
days = 1

[tokens]
enabled = true
kyc_approval_share = 1.0
{tokens}
"""
    )
    return scenario


def test_a_scenario_settings_file_sets_the_rates_on_chain(tmp_path: Path):
    (tmp_path / "tuned").mkdir()
    (tmp_path / "tuned" / "evch.toml").write_text(DOUBLE_RATE_FILE)
    loaded = load_scenario(small_scenario(tmp_path, 'settings_file = "tuned/evch.toml"'))
    out = tmp_path / "run"
    summary = asyncio.run(run_scenario(loaded, out))

    manifest = json.loads((out / "manifest.json").read_text())
    ledger = manifest["ledger"]
    log = read_ledger(out / "ledger.jsonl", ledger["proof_of_charge_program"], ledger["evch_mint"])
    [[charge]] = log.charges.values()
    assert charge.rates == DOUBLE_RATE  # the program was initialised from the file
    expected = poc.mint_amounts(DOUBLE_RATE, charge.record.energy_wh)
    assert charge.minted.total_raw == expected.total_raw == summary.tokens.minted_raw
    # 2 EVCH per kWh, all of it to the driver and the operator (the defaults: 1 EVCH, 100 %)
    assert charge.minted.driver_raw + charge.minted.operator_raw == charge.record.energy_wh * 2_000


def test_a_scenario_with_a_bad_settings_file_or_two_pegs_is_refused(tmp_path: Path):
    (tmp_path / "bad.toml").write_text("[token_service]\ndriver_bps = 20_000\n")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(small_scenario(tmp_path, 'settings_file = "bad.toml"'))
    assert (
        "scenario.toml:33: tokens.settings_file: token_service.operator_bps: driver_bps + "
        "operator_bps must be at most 10000 (20000 + 3333)"
    ) in str(refused.value)

    (tmp_path / "peg.toml").write_text('[token_service.peg]\nbasis = "usd"\nusd_per_evch = "1"\n')
    with pytest.raises(ScenarioError, match=r"tokens\.peg: the settings file has a \[token_"):
        load_scenario(small_scenario(tmp_path, 'settings_file = "peg.toml"\npeg = "kwh"'))
    loaded = load_scenario(small_scenario(tmp_path, 'settings_file = "peg.toml"'))
    assert loaded.scenario.tokens.evch_peg() == EvchPeg(PegBasis.USD, Decimal(1))


# -- the CLI ---------------------------------------------------------------------------------


def test_the_cli_refuses_a_bad_settings_file_and_token_options_without_tokens(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[token_service]\ntransfer_fee_bps = -1\n")
    result = CliRunner().invoke(app, ["validator", "--token-settings", str(bad)])
    assert result.exit_code == 2
    assert "token_service.transfer_fee_bps: Input should be greater than or equal to 0" in (
        result.output
    )
    result = CliRunner().invoke(app, ["serve", "--ledger-url", "http://127.0.0.1:1"])
    assert result.exit_code == 2 and "only with --tokens" in result.output


def test_the_help_shows_every_default():
    """Rich reads "[...]" in a help text as markup and drops it: the defaults typer does not
    show itself are written "(default: ...)"."""
    shown = {
        command: CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "250"}).output
        for command in ("serve", "validator")
    }
    for text in (
        "interface (default: 127.0.0.1)",
        "OCPP WebSocket port (default: 9000)",
        "REST API port (default: 8000)",
        "HIL rigs only; default: off)",
        "(default: the embedded LiteSVM, in this process)",
        "API authentication: required (default)",
    ):
        assert text in shown["serve"], text
    assert "interface [default: 127.0.0.1]" in shown["validator"]
    assert "JSON-RPC port (0: a free one) [default: 8899]" in shown["validator"]


def serve_args(tmp_path: Path, *more: str) -> tuple[str, ...]:
    settings_file = tmp_path / "evch.toml"
    settings_file.write_text(DOUBLE_RATE_FILE)
    return (
        *("serve", "--tokens", "--token-settings", str(settings_file), "--admin-token", "s3cret"),
        *("--api-port", str(free_port()), "--ocpp-port", str(free_port())),
        *("--database-url", f"sqlite:///{tmp_path / 'evch.db'}", *more),
    )


async def account(url: str, address: Pubkey) -> bytes:
    ledger = RpcLedger(url)
    try:
        data = await ledger.account_data(address)
    finally:
        await ledger.close()
    assert data is not None, f"no account {address} on {url}"
    return data


async def admin_get(http: httpx.AsyncClient, path: str, token: str = "s3cret") -> httpx.Response:
    return await http.get(path, headers={"Authorization": f"Bearer {token}"})


async def test_evch_serve_with_tokens_answers_the_admin_and_refuses_others(tmp_path: Path):
    """`evch serve --tokens`: EVCH deployed on the embedded ledger with the settings file's
    rates, the admin routes behind the bearer token."""
    async with evch(*serve_args(tmp_path), ready="API") as printed:
        assert any("EVCH  on the embedded LiteSVM" in line for line in printed)
        async with httpx.AsyncClient(base_url=printed[-1].split()[1], timeout=10) as http:
            supply = await admin_get(http, "/token/admin/supply")
            assert supply.status_code == 200
            assert supply.json()["supply_raw"] == 0 and supply.json()["sessions_recorded"] == 0
            config = (await admin_get(http, "/token/admin/config")).json()
            assert config["proof_of_charge"]["rates"] == dataclasses.asdict(DOUBLE_RATE)
            assert (await http.get("/token/admin/supply")).status_code == 401
            assert (await admin_get(http, "/token/admin/supply", "x")).status_code == 401


async def test_evch_serve_bootstraps_evch_on_a_json_rpc_ledger(tmp_path: Path):
    """`--ledger-url`: EVCH deployed on `evch validator`'s JSON-RPC (here in this process)."""
    async with LocalnetServer(port=0) as validator:
        args = serve_args(tmp_path, "--ledger-url", validator.url)
        async with evch(*args, ready="API") as printed:
            assert any(f"EVCH  on {validator.url}" in line for line in printed)
            async with httpx.AsyncClient(base_url=printed[-1].split()[1], timeout=10) as http:
                config = (await admin_get(http, "/token/admin/config")).json()
        program = Pubkey.from_string(config["proof_of_charge"]["program"])
        on_chain = await account(validator.url, poc.config_address(program))
    assert ConfigState.parse(on_chain).rates == DOUBLE_RATE


async def test_evch_validator_bootstraps_with_a_settings_file(tmp_path: Path):
    settings_file = tmp_path / "evch.toml"
    settings_file.write_text(
        DOUBLE_RATE_FILE
        + "min_lock_s = 60\n[[token_service.tiers]]\n"
        + "min_amount_raw = 5\nmin_lock_s = 60\ndiscount_bps = 250\n"
    )
    keys = tmp_path / "keys.json"
    args = ("validator", "--port", "0", "--token-settings", str(settings_file), "--keys-out")
    async with evch(*args, str(keys), ready="Solana JSON-RPC") as printed:
        url, deployment = printed[-1].split()[2], json.loads(keys.read_text())["deployment"]
        program = Pubkey.from_string(deployment["proof_of_charge_program"])
        config = ConfigState.parse(await account(url, poc.config_address(program)))
        program = Pubkey.from_string(deployment["staking_program"])
        pool = staking.parse_config(await account(url, staking.config_address(program)))
    assert config.rates == DOUBLE_RATE
    assert pool.tiers == (Tier(5, 60, 250),) and pool.min_lock_s == 60
