"""The token service end to end: real chargers' sessions minted through the Proof-of-Charge
program on a real SVM, exactly once, through KYC, ledger outages and restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from central_system.app import CentralSystem
from central_system.domain.model import Site
from central_system.domain.tokens import KycStatus, TokenTxStatus
from central_system.ledger import EmbeddedLedger, RpcLedger, token_amount
from central_system.pricing import TariffConfig
from central_system.store import tokens as token_repo
from central_system.tokens.bootstrap import DAY_S, TokenAuthorities, TokenSettings, bootstrap
from central_system.tokens.service import KycDecision, TokenService
from chargers_sim import ChargerConfig, emulated_charger
from programs.localnet import LocalnetServer, LocalValidator
from programs.proof_of_charge import Rates, mint_amounts
from programs.spl.token2022 import parse_token_account
from programs.staking import Tier
from tests.clock import ManualClock
from tests.conftest import SECOND_TOKEN, VALID_TOKEN, csms_settings, seed_tokens

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Kyc:
    """A KYC provider that approves the ids it is told to (the real one is a third party)."""

    def __init__(self, approved: set[str]) -> None:
        self.approved = approved

    async def check(self, owner_ref: str) -> KycDecision:
        if owner_ref in self.approved:
            return KycDecision(True)
        return KycDecision(False, "documents not accepted")


async def charge(central: CentralSystem, charger_id: str, id_token: str, wh: int) -> None:
    """One session of `wh` on a 1.6 charger (18 kW: 5 Wh a second), its meter registered."""
    clock = central.clock
    charger = emulated_charger(ChargerConfig(charger_id, central.ocpp_url), clock)
    for evse_id, (serial, public_key_der) in charger.meter_keys().items():
        await central.service.register_meter(charger_id, evse_id, serial, public_key_der)
    await charger.power_on()
    await charger.wait_online()
    await charger.plug_in(1)
    await charger.start_transaction(1, id_token)
    await charger.settle()
    charger.set_power(1, 18_000)
    await clock.advance(wh / 5)
    await charger.stop_transaction(1, "Local")
    await charger.settle()
    await charger.power_off()


async def session_rows(tokens: TokenService, owner: str, count: int):
    """The owner's Proof-of-Charge rows, once `count` of them are in the outbox."""
    async with asyncio.timeout(10):
        while True:
            rows = [r for r in await tokens.transactions(owner) if r.session_id]
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.02)


async def minted(tokens: TokenService, owner: str) -> int:
    wallet = await tokens.wallet(owner)
    return await token_amount(tokens.ledger, Pubkey.from_string(wallet.token_account)) or 0


async def start_tokens(central, ledger, kyc, *, deployment=None, keys=None, retry_after_s=30.0):
    keys = keys or TokenAuthorities()
    deployment = deployment or await bootstrap(ledger, keys)
    await ledger.fund(keys.attestor.pubkey(), 10**9)
    tokens = TokenService(
        central.db, central.clock, ledger, deployment, keys, kyc, retry_after_s=retry_after_s
    )
    central.attach_tokens(tokens)
    return tokens, deployment, keys


@pytest.fixture
async def central(sqlite_url):
    central = CentralSystem(csms_settings(sqlite_url, auto_register=True), ManualClock(START))
    await central.start(with_api=False)
    await seed_tokens(central)
    yield central
    await central.stop()


async def test_every_session_is_minted_once_to_driver_and_operator(central):
    tokens, deployment, _ = await start_tokens(central, EmbeddedLedger(), Kyc({VALID_TOKEN}))
    wallet = await tokens.open_wallet(VALID_TOKEN)
    assert wallet.kyc_status is KycStatus.PENDING and wallet.custodial
    assert (await tokens.verify(VALID_TOKEN)).kyc_status is KycStatus.APPROVED

    for n, wh in enumerate((7_300, 12_805)):
        await charge(central, f"CP-T{n}", VALID_TOKEN, wh)
    await asyncio.wait_for(tokens.drained(), 10)

    rates = Rates()
    expected = [mint_amounts(rates, wh) for wh in (7_300, 12_805)]
    assert await minted(tokens, VALID_TOKEN) == sum(a.driver_total_raw for a in expected)
    operator = await token_amount(tokens.ledger, deployment.operator_account)
    assert operator == sum(a.operator_raw for a in expected)
    rows = await tokens.transactions(VALID_TOKEN)
    mints = [r for r in rows if r.kind == "proof_of_charge"]
    assert [r.status for r in mints] == [TokenTxStatus.CONFIRMED] * 2
    assert all(r.signature and r.compute_units > 0 for r in mints)
    assert [r.detail["energy_wh"] for r in mints] == [7_300, 12_805]

    # Sent again (as after a lost answer): the program refuses it and nothing more is minted.
    first = mints[0]
    await central.db.write(_set_pending, first.tx_id)
    await asyncio.wait_for(tokens.drained(), 10)
    again = (await tokens.transactions(session_id=first.session_id))[0]
    assert again.status is TokenTxStatus.CONFIRMED and again.attempts == 2
    assert await minted(tokens, VALID_TOKEN) == sum(a.driver_total_raw for a in expected)


def _set_pending(db, tx_id):
    return token_repo.update_transaction(db, tx_id, START, status=TokenTxStatus.PENDING)


async def test_a_frozen_account_receives_nothing_until_kyc_thaws_it(central):
    kyc = Kyc(set())
    tokens, _, _ = await start_tokens(central, EmbeddedLedger(), kyc)
    await tokens.open_wallet(SECOND_TOKEN)
    assert (await tokens.verify(SECOND_TOKEN)).kyc_status is KycStatus.REFUSED
    await charge(central, "CP-FROZEN", SECOND_TOKEN, 5_000)
    await asyncio.wait_for(tokens.drained(), 10)
    (row,) = [r for r in await tokens.transactions(SECOND_TOKEN) if r.session_id]
    assert row.status is TokenTxStatus.BLOCKED and "frozen" in row.error
    assert await minted(tokens, SECOND_TOKEN) == 0

    kyc.approved.add(SECOND_TOKEN)  # the documents arrive
    assert (await tokens.verify(SECOND_TOKEN)).kyc_status is KycStatus.APPROVED
    await asyncio.wait_for(tokens.drained(), 10)
    assert await minted(tokens, SECOND_TOKEN) == mint_amounts(Rates(), 5_000).driver_total_raw
    assert (await tokens.revoke(SECOND_TOKEN)).kyc_status is KycStatus.REVOKED


async def test_a_ledger_outage_delays_minting_and_loses_nothing(central):
    validator = LocalValidator()
    server = LocalnetServer(validator)
    await server.start()
    port = int(server.url.rsplit(":", 1)[1])
    ledger = RpcLedger(server.url)
    try:
        tokens, _, _ = await start_tokens(central, ledger, Kyc({VALID_TOKEN}), retry_after_s=60)
        await tokens.open_wallet(VALID_TOKEN)
        await tokens.verify(VALID_TOKEN)
        await server.stop()  # the ledger goes away
        for n in range(3):
            await charge(central, f"CP-OUT{n}", VALID_TOKEN, 2_000 + n)
        rows = await session_rows(tokens, VALID_TOKEN, 3)
        assert [r.status for r in rows] == [TokenTxStatus.PENDING] * 3

        server = LocalnetServer(validator, port=port)  # back, with its state
        await server.start()
        await central.clock.advance(60)  # the worker's next try
        await asyncio.wait_for(tokens.drained(), 10)
        rows = [r for r in await tokens.transactions(VALID_TOKEN) if r.session_id]
        assert [r.status for r in rows] == [TokenTxStatus.CONFIRMED] * 3
        expected = sum(mint_amounts(Rates(), 2_000 + n).driver_total_raw for n in range(3))
        assert await minted(tokens, VALID_TOKEN) == expected
    finally:
        await ledger.close()
        await server.stop()


async def test_pending_mints_survive_a_restart(sqlite_url):
    ledger = EmbeddedLedger()
    kyc = Kyc({VALID_TOKEN})
    central = CentralSystem(csms_settings(sqlite_url, auto_register=True), ManualClock(START))
    await central.start(with_api=False)
    await seed_tokens(central)
    tokens, deployment, keys = await start_tokens(central, ledger, kyc)
    await tokens.open_wallet(VALID_TOKEN)
    await tokens.verify(VALID_TOKEN)
    await tokens.stop()  # the worker is gone before the session ends: its row stays pending
    await charge(central, "CP-RESTART", VALID_TOKEN, 4_321)
    rows = await session_rows(tokens, VALID_TOKEN, 1)
    assert [r.status for r in rows] == [TokenTxStatus.PENDING]
    await central.stop()

    again = CentralSystem(csms_settings(sqlite_url), ManualClock(START))
    await again.start(with_api=False)
    try:
        tokens, _, _ = await start_tokens(again, ledger, kyc, deployment=deployment, keys=keys)
        await asyncio.wait_for(tokens.drained(), 10)
        assert await minted(tokens, VALID_TOKEN) == mint_amounts(Rates(), 4_321).driver_total_raw
    finally:
        await again.stop()


async def test_staking_lowers_the_price_of_the_next_session(central):
    """A staking tier (here: 1 EVCH locked for a day gives 10 %) lowers the driver's price
    from the next session on; the lock holds until it ends (the Clock sysvar follows the
    central system's clock)."""
    ledger = EmbeddedLedger(clock=central.clock)
    keys = TokenAuthorities()
    tier = Tier(min_amount=10**6, min_lock_s=DAY_S, discount_bps=1_000)
    deployment = await bootstrap(ledger, keys, TokenSettings(tiers=(tier,)))
    tokens, _, _ = await start_tokens(
        central, ledger, Kyc({VALID_TOKEN}), deployment=deployment, keys=keys
    )
    await central.add_site(
        Site(
            "lot",
            "Lot",
            50_000,
            "uncontrolled",
            {"CP-S1": 22_000, "CP-S2": 22_000, "CP-S3": 22_000},
            tariff=TariffConfig(
                currency="USD",
                time_zone="UTC",
                bands=[{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 100}],
            ),
        )
    )
    await tokens.open_wallet(VALID_TOKEN)
    await tokens.verify(VALID_TOKEN)

    async def bill(charger_id: str) -> int:
        await charge(central, charger_id, VALID_TOKEN, 10_000)
        (session,) = await central.service.list_sessions(charger_id)
        return session.total_cost_minor

    assert await bill("CP-S1") == 1_000  # 10 kWh at 1.00 USD
    await asyncio.wait_for(tokens.drained(), 10)
    staked = await tokens.stake(VALID_TOKEN, 2 * 10**6, lock_s=2 * DAY_S)
    assert staked.status is TokenTxStatus.CONFIRMED, staked.error
    assert await tokens.fee_discount_bps(VALID_TOKEN) == 1_000
    assert await bill("CP-S2") == 900  # 10 % off

    early = await tokens.unstake(VALID_TOKEN, staked.detail["nonce"])
    assert early.status is TokenTxStatus.FAILED and early.error.startswith("EARLY_UNSTAKE")
    await central.clock.advance(2 * DAY_S)
    assert await tokens.fee_discount_bps(VALID_TOKEN) == 0  # the lock has ended
    done = await tokens.unstake(VALID_TOKEN, staked.detail["nonce"])
    assert done.status is TokenTxStatus.CONFIRMED
    assert await bill("CP-S3") == 1_000


async def test_the_regulator_claws_back_from_any_account(central):
    """The permanent delegate takes tokens back without the holder, even from an account that
    KYC froze again; every clawback is recorded with its reason."""
    tokens, deployment, _ = await start_tokens(central, EmbeddedLedger(), Kyc({VALID_TOKEN}))
    await tokens.open_wallet(VALID_TOKEN)
    await tokens.verify(VALID_TOKEN)
    await charge(central, "CP-CLAW", VALID_TOKEN, 9_000)
    await asyncio.wait_for(tokens.drained(), 10)
    held = await minted(tokens, VALID_TOKEN)
    operator = await token_amount(tokens.ledger, deployment.operator_account)

    first = await tokens.clawback(VALID_TOKEN, 1_000_000, "court order 1")
    assert first.status is TokenTxStatus.CONFIRMED and first.detail == {"reason": "court order 1"}
    await tokens.revoke(VALID_TOKEN, "sanctions list")  # frozen again
    second = await tokens.clawback(VALID_TOKEN, 500_000, "court order 2")
    assert second.status is TokenTxStatus.CONFIRMED, second.error
    assert await minted(tokens, VALID_TOKEN) == held - 1_500_000
    fees = sum(deployment.mint_config.fee(amount) for amount in (1_000_000, 500_000))
    received = await token_amount(tokens.ledger, deployment.operator_account) - operator
    assert received == 1_500_000 - fees  # the transfer fee is withheld as on any transfer
    wallet = await tokens.wallet(VALID_TOKEN)
    assert wallet.kyc_status is KycStatus.REVOKED
    account = await tokens.ledger.account_data(Pubkey.from_string(wallet.token_account))
    assert parse_token_account(account).is_frozen  # and it stays frozen


async def test_the_token_api_shows_balances_and_never_keys(sqlite_url):
    settings = csms_settings(sqlite_url, auto_register=True, admin_token="s3cret-admin")
    central = CentralSystem(settings, ManualClock(START))
    await central.start()
    await seed_tokens(central)
    try:
        tokens, _, _ = await start_tokens(central, EmbeddedLedger(), Kyc({VALID_TOKEN}))
        await tokens.open_wallet(VALID_TOKEN)
        await tokens.verify(VALID_TOKEN)
        await charge(central, "CP-API", VALID_TOKEN, 6_000)
        await asyncio.wait_for(tokens.drained(), 10)
        secret = await central.db.read(token_repo.wallet_secret, VALID_TOKEN)
        async with httpx.AsyncClient(base_url=central.api_url, timeout=10) as api:
            wallet = (await api.get(f"/token/wallets/{VALID_TOKEN}")).json()
            assert wallet["balance_raw"] == mint_amounts(Rates(), 6_000).driver_total_raw
            assert wallet["kyc_status"] == "approved" and wallet["custodial"]
            history = await api.get(f"/token/wallets/{VALID_TOKEN}/transactions")
            kinds = [t["kind"] for t in history.json()]
            assert kinds == ["kyc_thaw", "proof_of_charge"]
            for text in (str(wallet), history.text):  # no key material, in any encoding
                assert "secret" not in text
                assert str(Keypair.from_bytes(secret)) not in text and secret.hex() not in text
            staked = await api.post(
                f"/token/wallets/{VALID_TOKEN}/stake", json={"amount_raw": 10**6, "lock_s": DAY_S}
            )
            assert staked.json()["status"] == "confirmed"
            assert (await api.get("/token/wallets/NOBODY")).status_code == 404
            assert (await api.get("/token/admin/supply")).status_code == 401
            wrong = {"Authorization": "Bearer guess"}
            assert (await api.get("/token/admin/supply", headers=wrong)).status_code == 401
            admin = {"Authorization": "Bearer s3cret-admin"}
            supply = (await api.get("/token/admin/supply", headers=admin)).json()
            amounts = mint_amounts(Rates(), 6_000)
            assert supply["supply_raw"] == amounts.driver_total_raw + amounts.operator_raw
            assert supply["verified_wh"] == 6_000 and supply["sessions_recorded"] == 1
            taken = await api.post(
                "/token/admin/clawback",
                headers=admin,
                json={"owner_ref": VALID_TOKEN, "amount_raw": 1_000, "reason": "audit"},
            )
            assert taken.json()["status"] == "confirmed"
    finally:
        await central.stop()


async def test_redeeming_burns_and_a_frozen_account_cannot_pay(central):
    tokens, _, _ = await start_tokens(central, EmbeddedLedger(), Kyc({VALID_TOKEN}))
    await tokens.open_wallet(VALID_TOKEN)
    await tokens.verify(VALID_TOKEN)
    await charge(central, "CP-REDEEM", VALID_TOKEN, 8_000)
    await asyncio.wait_for(tokens.drained(), 10)
    held, supply = await minted(tokens, VALID_TOKEN), (await tokens.supply())["supply_raw"]

    burnt = await tokens.redeem(VALID_TOKEN, 2_000_000, "car wash")
    assert burnt.status is TokenTxStatus.CONFIRMED and burnt.detail == {"service": "car wash"}
    assert await minted(tokens, VALID_TOKEN) == held - 2_000_000
    assert (await tokens.supply())["supply_raw"] == supply - 2_000_000  # burnt, not moved

    await tokens.revoke(VALID_TOKEN, "KYC expired")
    refused = await tokens.redeem(VALID_TOKEN, 1_000, "car wash")
    assert refused.status is TokenTxStatus.FAILED and refused.error == "Token-2022 ACCOUNT_FROZEN"
    assert await minted(tokens, VALID_TOKEN) == held - 2_000_000
