"""Sessions paid in EVCH: the peg, the fee, exactly one payment per session, the operator's
settlement, and a frozen account that cannot pay. Real chargers, real SVM, real Token-2022."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import httpx
import pytest
from sqlalchemy import delete

from central_system.app import CentralSystem
from central_system.domain.model import Site
from central_system.domain.tokens import TokenTxKind, TokenTxStatus
from central_system.errors import Conflict, Forbidden
from central_system.ledger import EmbeddedLedger, token_amount
from central_system.payments import EvchPeg, NoEvchPrice, PaymentRefused, PegBasis, SettleIn
from central_system.payments.peg import evch_value_minor, gross_for_net, quote, settlement
from central_system.pricing import FxTable, Money, PriceInterval, TariffConfig
from central_system.store import tokens as token_repo
from central_system.store.models import OperatorSettlementRow
from programs.spl.token2022 import parse_token_account, transfer_fee
from tests.central_system.test_tokens import START, Kyc, charge, start_tokens
from tests.clock import ManualClock
from tests.conftest import SECOND_TOKEN, VALID_TOKEN, csms_settings, seed_tokens

ADMIN_TOKEN = "admin-secret-for-tests"


# -- the peg and the fee, as pure functions ----------------------------------------------------


@pytest.mark.parametrize("bps,max_fee", [(50, 5 * 10**6), (1, 10), (9_999, 3), (250, 10**18)])
def test_the_gross_amount_is_the_least_that_leaves_the_net_after_the_fee(bps, max_fee):
    for net in (1, 2, 199, 10**6, 2_000_000, 987_654_321, 10**12):
        gross = gross_for_net(net, bps, max_fee)
        assert gross - transfer_fee(gross, bps, max_fee) >= net
        assert gross - 1 - transfer_fee(gross - 1, bps, max_fee) < net


def test_the_kwh_peg_is_the_time_weighted_average_price():
    t = datetime(2025, 1, 1, tzinfo=UTC)
    prices = [
        PriceInterval(t, t + timedelta(hours=1), 100, "USD"),
        PriceInterval(t + timedelta(hours=1), t + timedelta(hours=1, minutes=30), 250, "USD"),
    ]
    value = evch_value_minor(EvchPeg(), "USD", prices, None)
    assert value == Fraction(100 * 3600 + 250 * 1800, 5400) == 150
    with pytest.raises(NoEvchPrice):
        evch_value_minor(EvchPeg(), "USD", [], None)


def test_the_usd_peg_goes_through_the_site_fx_and_settles_in_usdc():
    peg = EvchPeg(PegBasis.USD, usd_per_evch=Decimal("0.12"), settle_in=SettleIn.USDC)
    fx = FxTable({"USD/AED": "3.6725"})
    value = evch_value_minor(peg, "AED", [], fx)
    assert value == Fraction("0.12") * Fraction("3.6725") * 100  # fils per EVCH
    priced = quote(Money(4_407, "AED"), value, 50, 5 * 10**6)  # 44.07 AED = 100 EVCH
    assert priced.net_raw == 100 * 10**6
    assert priced.fee_raw == transfer_fee(priced.gross_raw, 50, 5 * 10**6)
    assert settlement(priced, SettleIn.USDC, fx) == Money(1_200, "USD")
    assert settlement(priced, SettleIn.FIAT, fx) == Money(4_407, "AED")
    with pytest.raises(NoEvchPrice):
        evch_value_minor(peg, "IRR", [], fx)  # no USD/IRR rate
    with pytest.raises(ValueError):
        EvchPeg(PegBasis.USD)


# -- paying real sessions ----------------------------------------------------------------------

FLAT_USD = TariffConfig(
    currency="USD",
    time_zone="UTC",
    bands=[{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 100}],
)


async def priced_site(central: CentralSystem, *chargers: str) -> None:
    await central.add_site(
        Site("lot", "Lot", 50_000, "uncontrolled", dict.fromkeys(chargers, 22_000), FLAT_USD)
    )


async def charged(central: CentralSystem, charger_id: str, wh: int):
    """A billed session of the valid driver, once its Proof-of-Charge is minted."""
    await charge(central, charger_id, VALID_TOKEN, wh)
    await asyncio.wait_for(central.tokens.drained(), 10)
    (session,) = await central.service.list_sessions(charger_id)
    return session


async def driver_with_evch(central, *chargers):
    """The valid driver, KYC approved, with the EVCH of a 10 kWh session minted."""
    tokens, deployment, _ = await start_tokens(
        central, EmbeddedLedger(clock=central.clock), Kyc({VALID_TOKEN})
    )
    await priced_site(central, "CP-EARN", *chargers)
    await tokens.open_wallet(VALID_TOKEN)
    await tokens.verify(VALID_TOKEN)
    await charge(central, "CP-EARN", VALID_TOKEN, 10_000)
    await asyncio.wait_for(tokens.drained(), 10)
    return tokens, deployment


@pytest.fixture
async def central(sqlite_url):
    settings = csms_settings(sqlite_url, auto_register=True, admin_token=ADMIN_TOKEN)
    central = CentralSystem(settings, ManualClock(START))
    await central.start()
    await seed_tokens(central)
    yield central
    await central.stop()


async def test_a_session_paid_in_evch_settles_the_operator_once(central):
    tokens, deployment = await driver_with_evch(central, "CP-PAY")
    session = await charged(central, "CP-PAY", 2_000)
    assert session.total_cost_minor == 200  # 2 kWh at 1.00 USD

    priced = await central.payments.quote(session.session_id)
    assert priced.value_minor_per_evch == 100  # the site's average kWh price: 1 EVCH = 1 kWh
    assert priced.net_raw == 2 * 10**6
    driver_before = await tokens.balance_raw(VALID_TOKEN)
    operator_before = await token_amount(tokens.ledger, deployment.operator_account)

    paid = await central.payments.pay(VALID_TOKEN, session.session_id)

    assert paid.gross_raw == priced.gross_raw and paid.fee_raw == priced.fee_raw > 0
    assert driver_before - await tokens.balance_raw(VALID_TOKEN) == paid.gross_raw
    operator = parse_token_account(await tokens.ledger.account_data(deployment.operator_account))
    assert operator.amount - operator_before == paid.net_raw == 2 * 10**6
    assert operator.withheld_amount == paid.fee_raw  # the platform fee, withheld on chain
    assert (paid.settled_in, paid.settled_minor, paid.settled_currency) == ("fiat", 200, "USD")
    payment = [r for r in await tokens.transactions(VALID_TOKEN) if r.kind is TokenTxKind.PAYMENT]
    assert [r.tx_id for r in payment] == [paid.tx_id]
    assert payment[0].status is TokenTxStatus.CONFIRMED and payment[0].signature

    with pytest.raises(Conflict):
        await central.payments.pay(VALID_TOKEN, session.session_id)
    with pytest.raises(Forbidden):  # someone else's session
        await central.payments.pay(SECOND_TOKEN, session.session_id)
    assert await central.payments.settlements() == [paid]


async def test_a_frozen_account_cannot_pay_until_kyc_thaws_it(central):
    tokens, _ = await driver_with_evch(central, "CP-FRZ")
    session = await charged(central, "CP-FRZ", 1_000)
    balance = await tokens.balance_raw(VALID_TOKEN)
    await tokens.revoke(VALID_TOKEN, "documents expired")

    with pytest.raises(PaymentRefused, match="ACCOUNT_FROZEN"):
        await central.payments.pay(VALID_TOKEN, session.session_id)
    (failed,) = [r for r in await tokens.transactions(VALID_TOKEN) if r.kind == "payment"]
    assert (
        failed.status is TokenTxStatus.FAILED and await tokens.balance_raw(VALID_TOKEN) == balance
    )
    assert await central.payments.settlement(session.session_id) is None

    await tokens.verify(VALID_TOKEN)  # approved again: the same payment goes through
    paid = await central.payments.pay(VALID_TOKEN, session.session_id)
    assert paid.tx_id == failed.tx_id
    assert balance - await tokens.balance_raw(VALID_TOKEN) == paid.gross_raw


async def test_too_little_evch_is_refused_and_costs_nothing(central):
    tokens, _ = await driver_with_evch(central, "CP-BIG")
    session = await charged(central, "CP-BIG", 40_000)  # 40 USD; it earns ~26.7 EVCH
    balance = await tokens.balance_raw(VALID_TOKEN)
    with pytest.raises(PaymentRefused, match="INSUFFICIENT_FUNDS"):
        await central.payments.pay(VALID_TOKEN, session.session_id)
    assert await tokens.balance_raw(VALID_TOKEN) == balance


async def test_the_api_quotes_and_pays_and_lists_settlements(central):
    await driver_with_evch(central, "CP-API")
    session = await charged(central, "CP-API", 3_000)
    async with httpx.AsyncClient(base_url=central.api_url + "/token", timeout=10) as api:
        quoted = (await api.get(f"/sessions/{session.session_id}/quote")).json()
        assert quoted["bill_minor"] == 300 and quoted["net_raw"] == 3 * 10**6
        assert quoted["gross_raw"] == quoted["net_raw"] + quoted["fee_raw"]

        body = {"session_id": session.session_id}
        paid = await api.post(f"/wallets/{VALID_TOKEN}/pay", json=body)
        assert paid.status_code == 200, paid.text
        assert paid.json()["gross_raw"] == quoted["gross_raw"]
        again = await api.post(f"/wallets/{VALID_TOKEN}/pay", json=body)
        assert again.status_code == 409

        assert (await api.get("/admin/settlements")).status_code == 401
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        listed = (await api.get("/admin/settlements", headers=auth)).json()
        assert [s["session_id"] for s in listed] == [session.session_id]
        assert listed[0]["settled_minor"] == 300


async def test_a_payment_whose_answer_was_lost_is_settled_from_its_receipt(central):
    """The transfer landed but the central system never learnt it (the row failed, as after
    an outage): paying again finds the on-chain receipt and settles without a second transfer."""
    tokens, _ = await driver_with_evch(central, "CP-LOST")
    session = await charged(central, "CP-LOST", 1_000)
    first = await central.payments.pay(VALID_TOKEN, session.session_id)
    balance = await tokens.balance_raw(VALID_TOKEN)
    await central.db.write(_forget_settlement, session.session_id, first.tx_id)

    again = await central.payments.pay(VALID_TOKEN, session.session_id)
    assert await tokens.balance_raw(VALID_TOKEN) == balance  # nothing sent twice
    assert (again.gross_raw, again.tx_id) == (first.gross_raw, first.tx_id)
    (row,) = [r for r in await tokens.transactions(VALID_TOKEN) if r.kind == "payment"]
    assert row.status is TokenTxStatus.CONFIRMED and row.attempts == 2
    receipt = await tokens.ledger.account_data(central.payments.receipt_address(session.session_id))
    assert receipt is not None


def _forget_settlement(db, session_id, tx_id):
    db.execute(delete(OperatorSettlementRow).where(OperatorSettlementRow.session_id == session_id))
    token_repo.update_transaction(db, tx_id, START, status=TokenTxStatus.FAILED)
