"""Reward classes and Green Credits: off-peak from the site's tariff, renewable from the site's
PV against its measured load; minted on chain with the session, exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from solders.pubkey import Pubkey

from central_system.domain.model import Site
from central_system.domain.tokens import TokenTxStatus
from central_system.ledger import EmbeddedLedger, token_amount
from central_system.pricing import PricedInterval, TariffConfig
from central_system.signals import SiteFeeds
from central_system.tokens.rewards import classify, off_peak_wh, renewable_wh
from programs.proof_of_charge import Rates, RewardClass, mint_amounts
from programs.spl.token2022 import associated_token_address, parse_mint
from tests.central_system.test_tokens import START, Kyc, _set_pending, central, charge, start_tokens
from tests.conftest import VALID_TOKEN

__all__ = ["central"]  # the fixture, shared with test_tokens

# START is Monday 09:00 UTC: in this tariff 08:00-12:00 is the cheap band.
TOU = TariffConfig(
    currency="USD",
    time_zone="UTC",
    bands=[
        {"start_hour": 0, "end_hour": 8, "price_minor_per_kwh": 300},
        {"start_hour": 8, "end_hour": 12, "price_minor_per_kwh": 100},
        {"start_hour": 12, "end_hour": 24, "price_minor_per_kwh": 300},
    ],
)


class ConstantPv:
    """A PV signal that gives the same output all the time (a recorded series in real runs)."""

    def __init__(self, watts: float) -> None:
        self.watts = watts

    def forecast(self, start: datetime, end: datetime):
        return [(start, end, self.watts)]


def line(start: datetime, minutes: int, wh: int) -> PricedInterval:
    return PricedInterval(start, start + timedelta(minutes=minutes), 0, "USD", wh, 0)


def test_off_peak_is_the_energy_in_the_days_cheapest_band():
    t = datetime(2025, 3, 3, 7, 45, tzinfo=UTC)  # 07:45-08:00 dear, then cheap
    lines = [line(t, 15, 1_000), line(t + timedelta(minutes=15), 15, 3_000)]
    assert off_peak_wh(TOU, lines) == 3_000
    assert classify(4_000, 3_000, 0).reward_class is RewardClass.OFF_PEAK
    assert classify(4_000, 1_999, 0).reward_class is RewardClass.NONE
    flat = TariffConfig(
        currency="USD",
        time_zone="UTC",
        bands=[{"start_hour": 0, "end_hour": 24, "price_minor_per_kwh": 100}],
    )
    assert off_peak_wh(flat, lines) == 0  # one price all day: nothing is off-peak


def test_renewable_energy_is_the_pv_share_of_the_site_load():
    t = datetime(2025, 3, 3, 12, tzinfo=UTC)
    lines = [line(t, 15, 1_000), line(t + timedelta(minutes=15), 15, 1_000)]
    load = {t: 20_000.0, t + timedelta(minutes=15): 5_000.0}
    # 10 kW of PV covers half of a 20 kW load, and all of a 5 kW one.
    assert renewable_wh(lines, ConstantPv(10_000), load) == 500 + 1_000
    assert renewable_wh(lines, ConstantPv(0), load) == 0
    assert renewable_wh(lines, None, load) == 0
    # No load measured (the session was alone): PV covers its own 4 kW draw only in part.
    assert renewable_wh(lines[:1], ConstantPv(1_000), {}) == 250
    rewards = classify(2_000, 0, 1_500)
    assert rewards.reward_class is RewardClass.RENEWABLE and rewards.green_credit_raw == 1_500_000


async def test_an_off_peak_solar_session_earns_both_rewards_and_green_credits_once(central):
    tokens, deployment, _ = await start_tokens(
        central, EmbeddedLedger(clock=central.clock), Kyc({VALID_TOKEN})
    )
    site = Site("sun", "Sun", 50_000, "uncontrolled", {"CP-SUN": 22_000}, tariff=TOU)
    await central.add_site(site, SiteFeeds(pv_w=ConstantPv(100_000)))  # more PV than load
    wallet = await tokens.open_wallet(VALID_TOKEN)
    await tokens.verify(VALID_TOKEN)
    assert START.hour == 9  # in the cheap band

    await charge(central, "CP-SUN", VALID_TOKEN, 10_000)
    await asyncio.wait_for(tokens.drained(), 10)

    (row,) = [r for r in await tokens.transactions(VALID_TOKEN) if r.session_id]
    both = RewardClass.OFF_PEAK | RewardClass.RENEWABLE
    assert row.status is TokenTxStatus.CONFIRMED and row.detail["reward_class"] == both
    expected = mint_amounts(Rates(), 10_000, both)
    assert expected.reward_raw == 3_000_000  # +10 % off-peak, +20 % renewable of 10 EVCH
    assert await tokens.balance_raw(VALID_TOKEN) == expected.driver_total_raw
    green_account = associated_token_address(
        Pubkey.from_string(wallet.pubkey), deployment.green_mint
    )
    assert await token_amount(tokens.ledger, green_account) == 10_000 * 1_000
    assert row.detail["green_credit_raw"] == 10_000 * 1_000

    # Sent again (a lost answer): the session PDA refuses the record and the certificate.
    await central.db.write(_set_pending, row.tx_id)
    await asyncio.wait_for(tokens.drained(), 10)
    green = parse_mint(await tokens.ledger.account_data(deployment.green_mint))
    assert green.supply == 10_000 * 1_000
    assert await tokens.balance_raw(VALID_TOKEN) == expected.driver_total_raw
