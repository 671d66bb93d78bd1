"""The EVCH admin (central_system/tokens/admin.py and /api/v1/token/admin) against real
chargers, the real central system and the real programs on LiteSVM: every operation is a
transaction whose effect is read back from the ledger."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from central_system.app import CentralSystem
from central_system.domain.tokens import TokenTransaction, TokenTxKind, TokenTxStatus
from central_system.errors import NotFound
from central_system.ledger import EmbeddedLedger, RpcLedger, token_amount
from central_system.store import tokens as token_repo
from central_system.tokens.admin import TokenAdmin
from central_system.tokens.service import TokenService
from programs import proof_of_charge as poc
from programs.localnet import LocalnetServer, LocalValidator
from programs.proof_of_charge import ChargeRecord, Rates, RewardClass, mint_amounts
from programs.spl.evch_mint import EVCH_DECIMALS
from programs.spl.token2022 import (
    harvest_withheld_tokens_to_mint,
    parse_mint,
    parse_token_account,
    transfer_checked_with_fee,
)
from tests.central_system import test_tokens
from tests.central_system.test_tokens import START, Kyc, charge, start_tokens
from tests.clock import ManualClock
from tests.conftest import SECOND_TOKEN, VALID_TOKEN, csms_settings, seed_tokens

ADMIN_TOKEN = "s3cret-admin"
central = test_tokens.central  # the fixture: a running central system, no API


async def holding(tokens: TokenService, owner_ref: str) -> int:
    wallet = await tokens.wallet(owner_ref)
    return await token_amount(tokens.ledger, Pubkey.from_string(wallet.token_account)) or 0


async def frozen(tokens: TokenService, owner_ref: str) -> bool:
    wallet = await tokens.wallet(owner_ref)
    data = await tokens.ledger.account_data(Pubkey.from_string(wallet.token_account))
    return parse_token_account(data).is_frozen


async def supply(tokens: TokenService) -> int:
    return parse_mint(await tokens.ledger.account_data(tokens.deployment.mint)).supply


async def proof_of_charge_rows(tokens: TokenService, owner_ref: str) -> list[TokenTransaction]:
    rows = await tokens.transactions(owner_ref)
    return [r for r in rows if r.kind is TokenTxKind.PROOF_OF_CHARGE]


async def charge_and_mint(central, tokens: TokenService, charger_id: str, owner_ref: str, wh: int):
    """One session, and the worker done with its Proof-of-Charge (minted or refused)."""
    await charge(central, charger_id, owner_ref, wh)
    await asyncio.wait_for(tokens.drained(), 10)


async def customer(central, kyc: set[str]) -> tuple[TokenService, TokenAdmin, object]:
    """EVCH on a fresh LiteSVM, the given holders' wallets open and thawed."""
    tokens, _, keys = await start_tokens(central, EmbeddedLedger(), Kyc(kyc))
    for owner_ref in sorted(kyc):
        await tokens.open_wallet(owner_ref)
        await tokens.verify(owner_ref)
    return tokens, TokenAdmin(tokens), keys


async def test_sessions_wait_while_paused_and_mint_once_resumed(central):
    """While paused the program refuses RecordCharge (Paused): the row waits as blocked, and
    resuming sends it again, so no verified session is lost to a pause."""
    tokens, admin, _ = await customer(central, {VALID_TOKEN})

    paused = await admin.set_paused(True, "suspected meter fraud")
    assert paused.status is TokenTxStatus.CONFIRMED, paused.error
    assert paused.owner_ref == "admin" and paused.signature
    assert paused.detail["before"] == {"paused": False}
    assert paused.detail["after"] == {"paused": True}
    assert (await admin.mint_config())["proof_of_charge"]["paused"] is True

    await charge_and_mint(central, tokens, "CP-PAUSED", VALID_TOKEN, 5_000)
    (waiting,) = await proof_of_charge_rows(tokens, VALID_TOKEN)
    assert waiting.status is TokenTxStatus.BLOCKED and "paused" in waiting.error
    assert await holding(tokens, VALID_TOKEN) == 0

    resumed = await admin.set_paused(False, "cleared")
    assert resumed.status is TokenTxStatus.CONFIRMED
    assert resumed.detail["after"] == {"paused": False}
    await charge_and_mint(central, tokens, "CP-RESUMED", VALID_TOKEN, 6_000)
    rows = await proof_of_charge_rows(tokens, VALID_TOKEN)
    assert [r.status for r in rows] == [TokenTxStatus.CONFIRMED] * 2
    minted = (
        mint_amounts(Rates(), 5_000).driver_total_raw
        + mint_amounts(Rates(), 6_000).driver_total_raw
    )
    assert await holding(tokens, VALID_TOKEN) == minted
    kinds = [r.kind for r in await tokens.transactions("admin")]
    assert kinds == [TokenTxKind.PAUSE, TokenTxKind.PAUSE]


async def test_new_rates_apply_to_the_sessions_recorded_afterwards(central):
    tokens, admin, _ = await customer(central, {VALID_TOKEN})
    operator = tokens.deployment.operator_account
    await charge_and_mint(central, tokens, "CP-RATE1", VALID_TOKEN, 10_000)

    doubled = Rates(mint_rate_raw_per_kwh=2_000_000, driver_bps=5_000, operator_bps=5_000)
    updated = await admin.update_rates(doubled, "launch promotion")
    assert updated.status is TokenTxStatus.CONFIRMED, updated.error
    assert updated.detail["before"]["mint_rate_raw_per_kwh"] == Rates().mint_rate_raw_per_kwh
    assert updated.detail["after"]["mint_rate_raw_per_kwh"] == 2_000_000
    assert await admin.rates() == doubled

    await charge_and_mint(central, tokens, "CP-RATE2", VALID_TOKEN, 10_000)
    before, after = mint_amounts(Rates(), 10_000), mint_amounts(doubled, 10_000)
    assert after.driver_raw != before.driver_raw  # the test tells the two apart
    assert await holding(tokens, VALID_TOKEN) == before.driver_total_raw + after.driver_total_raw
    assert await token_amount(tokens.ledger, operator) == before.operator_raw + after.operator_raw


async def test_a_rewards_cap_below_the_rewards_minted_is_refused(central):
    """The program refuses the update (OverCap); the row says why, with the numbers, and the
    rates on chain stay as they were."""
    tokens, admin, keys = await customer(central, {VALID_TOKEN})
    wallet = await tokens.wallet(VALID_TOKEN)
    record = ChargeRecord.for_session(
        "elsewhere-1",
        "CP-ELSEWHERE",
        20_000,
        START,
        START + timedelta(hours=1),
        bytes(32),
        RewardClass.OFF_PEAK,
    )
    recorded = await tokens.ledger.send(
        [
            poc.record_charge(
                tokens.deployment.proof_of_charge,
                attestor=keys.attestor.pubkey(),
                payer=keys.attestor.pubkey(),
                mint=tokens.deployment.mint,
                driver_token=Pubkey.from_string(wallet.token_account),
                operator_token=tokens.deployment.operator_account,
                record=record,
            )
        ],
        keys.attestor,
    )
    assert recorded.ok, recorded.error
    rewards = mint_amounts(Rates(), 20_000, RewardClass.OFF_PEAK).reward_raw
    assert rewards > 0

    refused = await admin.update_rates(Rates(rewards_cap_raw=rewards - 1), "shrink the pool")
    assert refused.status is TokenTxStatus.FAILED
    assert refused.error.startswith("OVER_CAP") and str(rewards) in refused.error
    assert await admin.rates() == Rates()
    assert refused.detail["after"] == refused.detail["before"]

    exact = await admin.update_rates(Rates(rewards_cap_raw=rewards), "no more rewards")
    assert exact.status is TokenTxStatus.CONFIRMED, exact.error
    assert (await admin.mint_config())["proof_of_charge"]["rewards_left_raw"] == 0


async def test_burning_from_a_thawed_and_from_a_frozen_account(central):
    """The permanent delegate burns without the holder; a frozen account (KYC revoked) is
    burnt from too and stays frozen; more than the holder has is refused."""
    tokens, admin, _ = await customer(central, {VALID_TOKEN})
    await charge_and_mint(central, tokens, "CP-BURN", VALID_TOKEN, 9_000)
    held, issued = await holding(tokens, VALID_TOKEN), await supply(tokens)

    burnt = await admin.burn(VALID_TOKEN, 1_000_000, "fraudulent session")
    assert burnt.status is TokenTxStatus.CONFIRMED, burnt.error
    assert burnt.owner_ref == VALID_TOKEN and burnt.amount_raw == 1_000_000
    assert burnt.detail["frozen"] is False and burnt.detail["reason"] == "fraudulent session"
    assert await holding(tokens, VALID_TOKEN) == held - 1_000_000
    assert await supply(tokens) == issued - 1_000_000

    await tokens.revoke(VALID_TOKEN, "sanctions list")
    assert await frozen(tokens, VALID_TOKEN)
    burnt = await admin.burn(VALID_TOKEN, 500_000, "court order")
    assert burnt.status is TokenTxStatus.CONFIRMED, burnt.error
    assert burnt.detail["frozen"] is True
    assert burnt.detail["balance_after_raw"] == held - 1_500_000
    assert burnt.detail["supply_after_raw"] == issued - 1_500_000
    assert await holding(tokens, VALID_TOKEN) == held - 1_500_000
    assert await frozen(tokens, VALID_TOKEN)  # frozen again in the same transaction

    too_much = await admin.burn(VALID_TOKEN, held, "more than there is")
    assert too_much.status is TokenTxStatus.FAILED
    assert too_much.error == "Token-2022 INSUFFICIENT_FUNDS"
    assert await holding(tokens, VALID_TOKEN) == held - 1_500_000
    assert await frozen(tokens, VALID_TOKEN)  # the refused transaction changed nothing
    with pytest.raises(NotFound):
        await admin.burn("NOBODY", 1, "no wallet")


async def withhold_fees(central, tokens: TokenService, keys) -> int:
    """Fees withheld the two ways: a holder's transfer with fee (withheld on the recipient's
    account) and a clawback whose fee on the operator's account is harvested to the mint.
    Returns the total."""
    await charge_and_mint(central, tokens, "CP-FEES", VALID_TOKEN, 9_000)
    sender = Keypair.from_bytes(await central.db.read(token_repo.wallet_secret, VALID_TOKEN))
    source = Pubkey.from_string((await tokens.wallet(VALID_TOKEN)).token_account)
    recipient = Pubkey.from_string((await tokens.wallet(SECOND_TOKEN)).token_account)
    config, mint = tokens.deployment.mint_config, tokens.deployment.mint
    amount = 3_000_000
    paid = await tokens.ledger.send(
        [
            transfer_checked_with_fee(
                source,
                mint,
                recipient,
                sender.pubkey(),
                amount,
                EVCH_DECIMALS,
                config.fee(amount),
            )
        ],
        keys.admin,
        [sender],
    )
    assert paid.ok, paid.error
    clawed = await tokens.clawback(VALID_TOKEN, 1_000_000, "audit")
    assert clawed.status is TokenTxStatus.CONFIRMED, clawed.error
    harvest = harvest_withheld_tokens_to_mint(mint, [tokens.deployment.operator_account])
    assert (await tokens.ledger.send([harvest], keys.admin)).ok
    return config.fee(amount) + config.fee(1_000_000)


async def test_withheld_fees_are_withdrawn_to_the_treasury(central):
    tokens, admin, keys = await customer(central, {VALID_TOKEN, SECOND_TOKEN})
    fees = await withhold_fees(central, tokens, keys)
    config = tokens.deployment.mint_config

    withheld = await admin.withheld_fees()
    assert withheld["withheld_in_mint_raw"] == config.fee(1_000_000)
    assert withheld["withheld_in_accounts_raw"] == config.fee(3_000_000)
    assert withheld["withheld_total_raw"] == fees > 0
    assert [a["owner_ref"] for a in withheld["accounts"]] == [SECOND_TOKEN]
    assert withheld["treasury_balance_raw"] == 0  # not even opened yet

    moved = await admin.withdraw_fees("monthly sweep")
    assert moved.status is TokenTxStatus.CONFIRMED, moved.error
    assert moved.amount_raw == fees and len(moved.detail["harvests"]) == 1
    assert moved.detail["treasury_opened"]  # the first withdrawal opens the treasury
    assert await token_amount(tokens.ledger, admin.treasury_account) == fees
    after = await admin.withheld_fees()
    assert after["withheld_total_raw"] == 0 and after["accounts"] == []
    recipient = Pubkey.from_string((await tokens.wallet(SECOND_TOKEN)).token_account)
    account = parse_token_account(await tokens.ledger.account_data(recipient))
    assert account.withheld_amount == 0

    again = await admin.withdraw_fees("nothing left")  # the treasury is open: nothing to redo
    assert again.status is TokenTxStatus.CONFIRMED and again.amount_raw == 0
    assert "treasury_opened" not in again.detail
    assert await token_amount(tokens.ledger, admin.treasury_account) == fees


async def test_the_admin_api_needs_the_credential_and_shows_no_keys(sqlite_url):
    settings = csms_settings(sqlite_url, auto_register=True, admin_token=ADMIN_TOKEN)
    central = CentralSystem(settings, ManualClock(START))
    await central.start()
    await seed_tokens(central)
    try:
        tokens, _admin, keys = await customer(central, {VALID_TOKEN, SECOND_TOKEN})
        fees = await withhold_fees(central, tokens, keys)
        held = await holding(tokens, VALID_TOKEN)
        routes = [
            ("GET", "/token/admin/config", None),
            ("PUT", "/token/admin/rates", {"reason": "promo", "mint_rate_raw_per_kwh": 2_000_000}),
            ("POST", "/token/admin/pause", {"reason": "incident"}),
            ("POST", "/token/admin/resume", {"reason": "resolved"}),
            (
                "POST",
                "/token/admin/burn",
                {"owner_ref": VALID_TOKEN, "amount_raw": 1_000, "reason": "fraud"},
            ),
            ("GET", "/token/admin/fees", None),
            ("POST", "/token/admin/fees/withdraw", {"reason": "sweep"}),
        ]
        secrets = [await central.db.read(token_repo.wallet_secret, VALID_TOKEN)]
        secrets += [bytes(k) for k in (keys.admin, keys.attestor, keys.kyc, keys.regulator)]
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=central.api_url, timeout=10) as api:
            for method, path, body in routes:
                for headers in ({}, {"Authorization": "Bearer guess"}):
                    refused = await api.request(method, path, json=body, headers=headers)
                    assert refused.status_code == 401, (path, refused.text)
            assert await holding(tokens, VALID_TOKEN) == held  # nothing happened
            assert (await admin_rows(tokens)) == []

            answers = {}
            for method, path, body in routes:
                answer = await api.request(method, path, json=body, headers=admin)
                assert answer.status_code == 200, (path, answer.text)
                answers[path] = answer
                for secret in secrets:  # no key material, in any encoding
                    assert str(Keypair.from_bytes(secret)) not in answer.text
                    assert secret.hex() not in answer.text and "secret" not in answer.text

            config = answers["/token/admin/config"].json()
            assert config["metadata"]["symbol"] == "EVCH" and config["decimals"] == 6
            fee_bps = tokens.deployment.mint_config.transfer_fee_bps
            assert config["transfer_fee"]["basis_points"] == fee_bps > 0
            assert config["permanent_delegate"] == str(keys.regulator.pubkey())
            assert config["proof_of_charge"]["paused"] is False
            assert answers["/token/admin/rates"].json()["status"] == "confirmed"
            assert (await _admin_rates(api, admin))["mint_rate_raw_per_kwh"] == 2_000_000
            assert (await _admin_rates(api, admin))["driver_bps"] == Rates().driver_bps
            assert answers["/token/admin/burn"].json()["amount_raw"] == 1_000
            assert await holding(tokens, VALID_TOKEN) == held - 1_000
            assert answers["/token/admin/fees"].json()["withheld_total_raw"] == fees
            assert answers["/token/admin/fees/withdraw"].json()["amount_raw"] == fees
            kinds = [r.kind for r in await admin_rows(tokens)]
            assert kinds == ["update_rates", "pause", "pause", "fees_withdrawn"]

            unknown = {"owner_ref": "NOBODY", "amount_raw": 1, "reason": "nobody"}
            missing = await api.post("/token/admin/burn", json=unknown, headers=admin)
            assert missing.status_code == 404
            too_much = {"owner_ref": VALID_TOKEN, "amount_raw": held, "reason": "all of it"}
            refused = await api.post("/token/admin/burn", json=too_much, headers=admin)
            assert refused.status_code == 409
            assert refused.json()["message"] == "Token-2022 INSUFFICIENT_FUNDS"
            assert refused.json()["details"]["transaction"]["status"] == "failed"
            split = {"reason": "bad split", "driver_bps": 9_000, "operator_bps": 9_000}
            invalid = await api.put("/token/admin/rates", json=split, headers=admin)
            assert invalid.status_code == 422 and "10000" in invalid.text
            cap = {"reason": "too low", "rewards_cap_raw": 2**64}
            assert (await api.put("/token/admin/rates", json=cap, headers=admin)).status_code == 422
    finally:
        await central.stop()


async def admin_rows(tokens: TokenService) -> list[TokenTransaction]:
    return await tokens.transactions("admin")


async def _admin_rates(api: httpx.AsyncClient, headers: dict) -> dict:
    config = (await api.get("/token/admin/config", headers=headers)).json()
    return config["proof_of_charge"]["rates"]


async def test_the_admin_api_answers_503_while_the_ledger_is_unreachable(sqlite_url):
    """Nothing is known to have happened, so nothing is recorded."""
    settings = csms_settings(sqlite_url, auto_register=True, admin_token=ADMIN_TOKEN)
    central = CentralSystem(settings, ManualClock(START))
    await central.start()
    server = LocalnetServer(LocalValidator())
    await server.start()
    ledger = RpcLedger(server.url)
    try:
        tokens, _, _ = await start_tokens(central, ledger, Kyc(set()))
        await server.stop()  # the ledger goes away
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=central.api_url, timeout=30) as api:
            config = await api.get("/token/admin/config", headers=admin)
            assert config.status_code == 503 and config.json()["error"] == "unavailable"
            paused = await api.post(
                "/token/admin/pause", json={"reason": "incident"}, headers=admin
            )
            assert paused.status_code == 503
        assert await admin_rows(tokens) == []
    finally:
        await ledger.close()
        await server.stop()
        await central.stop()
