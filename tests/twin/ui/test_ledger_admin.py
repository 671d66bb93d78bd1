"""The ledger admin page through Streamlit's AppTest: with no source, with the quickstart run
directory (as run, and doctored with burns, stakes and a fee withdrawal), and live against
`evch serve --tokens` with the admin token (its reads, a pause then a resume, new rates from a
token settings file, a refused burn) and with a wrong one."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from central_system.domain.tokens import TokenTxKind, TokenTxStatus
from central_system.store.tokens import record_transaction
from central_system.tokens.bootstrap import TokenSettings
from central_system.tokens.settings_file import dump_token_settings
from programs.proof_of_charge import Rates
from tests.conftest import free_port
from tests.twin.ui.conftest import ADMIN_TOKEN, checked, metrics
from twin.report.formats import evch_text
from twin.ui.csms_api import explain
from twin.ui.ledger_actions import evch_raw
from twin.ui.ledger_charts import live_energy, live_fees, live_supply
from twin.ui.picker import NO_RUN_YET

PAGE = Path(__file__).resolve().parents[3] / "twin" / "ui" / "views" / "ledger_admin.py"
TIMEOUT_S = 120  # the first run imports the CSMS and reads the run
LIVE, RUN = "Live central system", "Run directory"
NOTHING_MINTED = "Nothing minted yet: Proof-of-Charge has recorded no session."
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def open_page(monkeypatch, runs_root: Path, api_url: str = "http://127.0.0.1:9/api/v1"):
    """The page run once, as `evch ui --runs RUNS --api-url URL` starts it."""
    monkeypatch.setenv("EVCH_UI_RUNS", str(runs_root))
    monkeypatch.setenv("EVCH_UI_API_URL", api_url)
    return checked(AppTest.from_file(PAGE, default_timeout=TIMEOUT_S).run())


def live(monkeypatch, tmp_path: Path, api_url: str, token: str) -> AppTest:
    at = open_page(monkeypatch, tmp_path, api_url)
    at.radio(key="ledger_admin_source").set_value(LIVE).run()
    return checked(at.text_input(key="ledger_admin_token").input(token).run())


def confirm(at: AppTest, button: str) -> AppTest:
    """Click an action's button, check the confirmation it asks for, and confirm."""
    checked(at.button(key=button).click().run())
    (asked,) = at.warning
    assert asked.value.startswith("**")  # the action's title, then what confirming does
    return checked(at.button(key="ledger_admin_confirm").click().run())


def admin_get(api_url: str, path: str) -> dict:
    answer = httpx.get(f"{api_url}{path}", headers=AS_ADMIN)
    answer.raise_for_status()
    return answer.json()


def test_with_no_source_the_page_says_what_each_one_shows(tmp_path, monkeypatch):
    at = open_page(monkeypatch, tmp_path / "runs")
    assert at.title[0].value == "Ledger admin"
    (info,) = at.info
    assert "Choose a source" in info.value and "evch serve --tokens" in info.value
    assert not at.metric and not at.get("plotly_chart") and not at.error

    at.radio(key="ledger_admin_source").set_value(RUN).run()
    assert NO_RUN_YET in checked(at).info[0].value
    at.radio(key="ledger_admin_source").set_value(LIVE).run()
    assert [i.value for i in checked(at).info] == [
        "Enter the admin token: every read and action here is an admin route."
    ]
    assert not at.metric and not at.error


def test_a_run_directory_shows_its_ledger_history(quickstart, runs_root, monkeypatch):
    at = open_page(monkeypatch, runs_root)
    checked(at.radio(key="ledger_admin_source").set_value(RUN).run())
    manifest = json.loads((quickstart / "manifest.json").read_text())
    tokens = manifest["tokens"]
    shown = metrics(at)
    assert shown["EVCH supply"] == evch_text(tokens["minted_raw"])  # nothing was burnt
    assert shown["Minted"] == evch_text(tokens["minted_raw"])
    ended = tokens["sessions_minted"] + tokens["sessions_blocked"]
    assert shown["Sessions minted"].startswith(f"{tokens['sessions_minted']} of {ended} ")
    assert shown["Verified energy"] == f"{manifest['energy_kwh']:,.3f} kWh"
    assert shown["Burnt"] == evch_text(0)
    assert shown["Fees withheld"] == evch_text(tokens["fees_raw"])
    assert [s.value for s in at.subheader] == [
        "Supply",
        "Minted vs verified energy",
        "Burns",
        "Withheld fees",
        "Payments in EVCH",
        "Pool state",
    ]
    # supply, minted vs verified, fees over time, payments per session
    assert len(at.get("plotly_chart")) == 4
    waiting, payments = at.dataframe
    assert len(waiting.value) == tokens["sessions_blocked"]  # the sessions waiting for KYC
    assert set(waiting.value["outcome"]) == {"waiting"}
    assert len(payments.value) == tokens["sessions_paid"]
    infos = [i.value for i in at.info]
    assert "No EVCH was burnt in this run (no redemption, no admin burn)." in infos
    assert "No EVCH was staked in this run." in infos
    assert any("EVCH/USDC liquidity pool is a model quantity" in i for i in infos)
    assert not at.error


def test_a_run_with_burns_stakes_and_withdrawn_fees_shows_them(quickstart, tmp_path, monkeypatch):
    """The quickstart run, its CSMS database doctored with what the twin does not do yet: a
    redemption, an admin burn, two stakes (one unstaked) and a fee withdrawal."""
    run = tmp_path / "runs" / "doctored"
    shutil.copytree(quickstart, run)
    at = datetime(2025, 1, 6, 12, tzinfo=UTC)
    rows = [
        (TokenTxKind.REDEEM, "DRIVER-1", 1_500_000, {"service": "parking"}),
        (TokenTxKind.ADMIN_BURN, "DRIVER-2", 1_000_000, {"reason": "fraud"}),
        (TokenTxKind.STAKE, "DRIVER-1", 4_000_000, {"nonce": 0, "lock_s": 30 * 86_400}),
        (TokenTxKind.STAKE, "DRIVER-1", 2_000_000, {"nonce": 1, "lock_s": 7 * 86_400}),
        (TokenTxKind.UNSTAKE, "DRIVER-1", None, {"nonce": 1}),
        (TokenTxKind.FEES_WITHDRAWN, "admin", 50_000, {"reason": "month end"}),
    ]
    engine = create_engine(f"sqlite:///{run / 'csms.sqlite'}")
    with Session(engine) as db, db.begin():
        for kind, owner, amount, detail in rows:
            record_transaction(
                db, kind, TokenTxStatus.CONFIRMED, at, owner_ref=owner, amount_raw=amount,
                detail=detail,
            )  # fmt: skip
    engine.dispose()

    page = open_page(monkeypatch, run.parent)
    checked(page.radio(key="ledger_admin_source").set_value(RUN).run())
    tokens = json.loads((run / "manifest.json").read_text())["tokens"]
    shown = metrics(page)
    assert shown["Burnt"] == evch_text(2_500_000)
    assert shown["Fees withheld"] == evch_text(tokens["fees_raw"] - 50_000)
    assert shown["Staked now"] == evch_text(4_000_000)
    assert shown["Open positions"] == "1"
    # supply, minted vs verified, burns, fees, payments, staking by lock
    assert len(page.get("plotly_chart")) == 6
    stakes = page.dataframe[-1].value
    assert list(stakes["lock_days"]) == [30.0, 7.0] and list(stakes["open"]) == [True, False]
    assert not page.error


def test_live_shows_the_supply_and_runs_admin_actions(csms_api_url, tmp_path, monkeypatch):
    at = live(monkeypatch, tmp_path, csms_api_url, ADMIN_TOKEN)
    supply = admin_get(csms_api_url, "/token/admin/supply")
    shown = metrics(at)
    assert shown["EVCH supply"] == evch_text(supply["supply_raw"])
    assert shown["Sessions recorded"] == f"{supply['sessions_recorded']:,}"
    assert shown["Proof-of-Charge"] == "running"
    # Nothing minted on this fresh ledger (`evch serve` has no KYC provider): empty states.
    assert not at.get("plotly_chart")
    infos = [info.value for info in at.info]
    assert infos.count(NOTHING_MINTED) == 2  # supply, minted vs verified energy
    assert "No platform fee has been withheld yet." in infos
    assert not at.error

    # Pause, then resume: each confirmed, each answered.
    at.text_input(key="ledger_admin_pause_reason").input("maintenance window").run()
    at = confirm(at, "ledger_admin_pause")
    assert at.success[0].value.startswith("Pause Proof-of-Charge: confirmed on the ledger")
    assert metrics(at)["Proof-of-Charge"] == "paused"
    assert admin_get(csms_api_url, "/token/admin/config")["proof_of_charge"]["paused"]
    at.text_input(key="ledger_admin_pause_reason").input("maintenance over").run()
    at = confirm(at, "ledger_admin_pause")
    assert at.success[0].value.startswith("Resume Proof-of-Charge: confirmed on the ledger")
    assert metrics(at)["Proof-of-Charge"] == "running"
    assert not admin_get(csms_api_url, "/token/admin/config")["proof_of_charge"]["paused"]

    # New rates from a token settings file, then the old ones back.
    before = admin_get(csms_api_url, "/token/admin/config")["proof_of_charge"]["rates"]
    doubled = Rates(mint_rate_raw_per_kwh=2 * before["mint_rate_raw_per_kwh"])
    text = dump_token_settings(TokenSettings(rates=doubled))
    at.file_uploader(key="ledger_admin_rates_upload").upload("tuned.toml", text.encode()).run()
    field = at.number_input(key="ledger_admin_rate_mint_rate_raw_per_kwh")
    assert checked(at) and field.value == doubled.mint_rate_raw_per_kwh
    at.text_input(key="ledger_admin_rates_reason").input("tuned in the tuner").run()
    at = confirm(at, "ledger_admin_rates")
    assert at.success[0].value.startswith("Update the Proof-of-Charge rates: confirmed")
    rates = admin_get(csms_api_url, "/token/admin/config")["proof_of_charge"]["rates"]
    assert rates["mint_rate_raw_per_kwh"] == doubled.mint_rate_raw_per_kwh
    restored = httpx.put(
        f"{csms_api_url}/token/admin/rates",
        json={"reason": "test over", **before},
        headers=AS_ADMIN,
    )
    assert restored.status_code == 200

    # A burn from nobody: refused, and said why.
    at.text_input(key="ledger_admin_burn_owner").input("NOBODY").run()
    at.text_input(key="ledger_admin_burn_amount").input("1.5").run()
    at.text_input(key="ledger_admin_burn_reason").input("fraud").run()
    at = confirm(at, "ledger_admin_burn")
    (refused,) = at.error
    assert refused.value == ("Burn 1.500000 EVCH from NOBODY: refused. 404: 'NOBODY' has no wallet")


def test_a_wrong_token_or_no_api_is_explained(csms_api_url, tmp_path, monkeypatch):
    at = live(monkeypatch, tmp_path, csms_api_url, "not-the-admin-token")
    (error,) = at.error
    assert error.value.startswith("401: the admin token was refused.")
    assert "evch serve --admin-token" in error.value
    assert not at.metric and not at.get("plotly_chart")

    nowhere = f"http://127.0.0.1:{free_port()}/api/v1"
    at.text_input(key="ledger_admin_api").input(nowhere).run()
    (error,) = checked(at).error
    assert error.value.startswith(f"The CSMS API at {nowhere} cannot be reached")
    assert not at.metric


def test_refusals_are_told_with_what_to_do():
    no_tokens = {"error": "unavailable", "message": "EVCH is not enabled on this central system"}
    assert explain(503, no_tokens) == (
        "503: EVCH is not enabled on this central system: start it with its token service, "
        "`evch serve --tokens`."
    )
    refused = {"error": "conflict", "message": "PAUSED: Proof-of-Charge is paused"}
    assert explain(409, refused) == "409: the ledger refused it: PAUSED: Proof-of-Charge is paused"
    invalid = {"detail": [{"loc": ["body", "reason"], "msg": "String should have at least 3"}]}
    assert explain(422, invalid) == "422: refused as invalid: reason: String should have at least 3"


def test_a_burn_amount_is_read_exactly_and_what_is_no_amount_refused():
    assert evch_raw("1.5") == 1_500_000 and evch_raw(" 2 ") == 2_000_000
    assert evch_raw("0.000001") == 1 and evch_raw("1e3") == 1_000_000_000
    for typed in ("abc", "1,5", "nan", "inf", "-Infinity", "sNaN"):  # not a traceback either
        assert evch_raw(typed) is None, typed


def test_the_live_charts_draw_what_the_api_answers():
    supply = {
        "supply_raw": 9_000_000,
        "withheld_fees_raw": 50_000,
        "verified_wh": 10_000,
        "minted_to_drivers_raw": 6_000_000,
        "minted_to_operators_raw": 3_000_000,
        "rewards_minted_raw": 1_000_000,
        "sessions_recorded": 2,
    }
    (bars,) = live_supply(supply).data
    shown = dict(zip(bars.y, bars.x, strict=True))
    assert shown["burnt"] == 1.0 and shown["supply"] == 9.0 and shown["rewards to drivers"] == 1.0
    energy = {trace.name: (trace.x[0], trace.y[0]) for trace in live_energy(supply, 900_000).data}
    assert energy["verified energy"] == ("verified energy (kWh)", 10.0)
    assert energy["base at the current rates"] == ("EVCH the rates give (base)", 9.0)
    fees = {
        "withheld_in_mint_raw": 0,
        "withheld_total_raw": 20_000,
        "accounts": [{"owner_ref": "operator", "token_account": "x", "withheld_raw": 20_000}],
        "treasury_balance_raw": 5_000,
    }
    (bars,) = live_fees(fees).data
    assert dict(zip(bars.y, bars.x, strict=True)) == {
        "withheld: operator": 0.02,
        "harvested into the mint": 0.0,
        "in the treasury": 0.005,
    }
    assert live_supply(supply | {"minted_to_drivers_raw": 0, "minted_to_operators_raw": 0,
                                 "rewards_minted_raw": 0}) is None  # fmt: skip
