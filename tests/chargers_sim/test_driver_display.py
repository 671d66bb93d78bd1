"""Prices and costs for the driver, sent by a central system and shown by emulated chargers.

The peer is a plain `ocpp`-library central system (not ours) over a real WebSocket: it validates
every frame of the charger against the schemas of its version, and sends the price and cost
messages exactly as OCPP 2.0.1 and the OCA application note "OCPP & California Pricing
Requirements" (1.6 DataTransfer, vendor org.openchargealliance.costmsg) define them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as CentralV16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as CentralV201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import serve

from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger
from chargers_sim.driver_display import ChargingPrice, DisplayedCost
from ocppj.wire import to_wire_time
from tests.clock import ManualClock

TOKEN = "TAG-DRIVER"
TX16 = 4711  # the transaction id the 1.6 peer gives
COSTMSG = "org.openchargealliance.costmsg"


class Csms16(CentralV16):
    @on("BootNotification")
    async def on_boot(self, **_):
        return result16.BootNotification(
            current_time=to_wire_time(ManualClock().now()), interval=300, status="Accepted"
        )

    @on("StatusNotification")
    async def on_status(self, **_):
        return result16.StatusNotification()

    @on("Heartbeat")
    async def on_heartbeat(self, **_):
        return result16.Heartbeat(current_time=to_wire_time(ManualClock().now()))

    @on("Authorize")
    async def on_authorize(self, **_):
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    async def on_start(self, **_):
        return result16.StartTransaction(transaction_id=TX16, id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    async def on_meter_values(self, **_):
        return result16.MeterValues()

    @on("StopTransaction")
    async def on_stop(self, **_):
        return result16.StopTransaction()


class Csms201(CentralV201):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # What to answer each TransactionEvent with, by eventType (besides idTokenInfo).
        self.answers: dict[str, dict[str, Any]] = {}
        self.notified = asyncio.Queue()

    @on("BootNotification")
    async def on_boot(self, **_):
        return result201.BootNotification(
            current_time=to_wire_time(ManualClock().now()), interval=300, status="Accepted"
        )

    @on("StatusNotification")
    async def on_status(self, **_):
        return result201.StatusNotification()

    @on("Heartbeat")
    async def on_heartbeat(self, **_):
        return result201.Heartbeat(current_time=to_wire_time(ManualClock().now()))

    @on("Authorize")
    async def on_authorize(self, **_):
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    async def on_transaction_event(self, event_type, **_):
        answer = dict(self.answers.get(event_type, {}))
        if event_type == "Started":
            answer["id_token_info"] = {"status": "Accepted"}
        return result201.TransactionEvent(**answer)

    @on("NotifyDisplayMessages")
    async def on_notify_display_messages(self, request_id, message_info=None, **_):
        self.notified.put_nowait((request_id, message_info))
        return result201.NotifyDisplayMessages()


class Rig:
    """A peer central system on a free port and, once connected, the charger and its peer."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.clock = ManualClock()
        self._peer: asyncio.Future = asyncio.get_running_loop().create_future()
        self.charger: EmulatedCharger
        self.shown: list[DisplayedCost] = []

    async def handler(self, websocket) -> None:
        charger_id = websocket.request.path.rstrip("/").rsplit("/", 1)[-1]
        kind = Csms16 if self.version == "1.6" else Csms201
        peer = kind(charger_id, websocket)
        self._peer.set_result(peer)
        await peer.start()

    async def peer(self):
        return await asyncio.wait_for(asyncio.shield(self._peer), 5)

    async def call(self, payload):
        peer = await self.peer()
        return await peer.call(payload, suppress=False)


async def _rig(version: str) -> AsyncIterator[Rig]:
    rig = Rig(version)
    subprotocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
    async with serve(rig.handler, "127.0.0.1", 0, subprotocols=[subprotocol]) as server:
        port = server.sockets[0].getsockname()[1]
        config = ChargerConfig(
            f"CP-DISPLAY-{version}", f"ws://127.0.0.1:{port}/ocpp", ocpp_version=version
        )
        rig.charger = emulated_charger(config, rig.clock)
        rig.charger.on_display = rig.shown.append
        await rig.charger.power_on()
        await rig.charger.wait_online()
        try:
            yield rig
        finally:
            await rig.charger.power_off()


@pytest.fixture
async def rig16() -> AsyncIterator[Rig]:
    async for rig in _rig("1.6"):
        yield rig


@pytest.fixture
async def rig201() -> AsyncIterator[Rig]:
    async for rig in _rig("2.0.1"):
        yield rig


# -- OCPP 1.6: DataTransfer org.openchargealliance.costmsg ---------------------------------------
async def costmsg(rig: Rig, message_id: str | None, data: str | None, vendor=COSTMSG) -> str:
    reply = await rig.call(call16.DataTransfer(vendor_id=vendor, message_id=message_id, data=data))
    return reply.status


RUNNING_COST = """{
    "transactionId": 4711, "timestamp": "2025-01-01T00:00:00.000Z", "meterValue": 1234000,
    "cost": 12345.67, "state": "Charging",
    "chargingPrice": {"kWhPrice": 0.123, "hourPrice": 2.00, "flatFee": 42.42},
    "priceText": "EUR 12345.67 so far @ 0.123/kWh"
}"""


async def test_v16_prices_and_costs_are_shown_as_sent(rig16):
    rig, charger = rig16, rig16.charger
    # Before the transaction: the driver's price, by their token.
    user_price = json.dumps({"idToken": TOKEN, "priceText": "EUR 0.123/kWh, 2.00/h"})
    assert await costmsg(rig, "SetUserPrice", user_price) == "Accepted"
    (tariff,) = charger.display.messages
    assert (tariff.kind, tariff.transaction_id, tariff.id_token) == ("tariff", None, TOKEN)
    assert tariff.text == "EUR 0.123/kWh, 2.00/h"
    assert tariff.at == rig.clock.now()
    assert charger.display.for_id_token(TOKEN) == [tariff]

    await charger.plug_in(1)
    await charger.start_transaction(1, TOKEN)
    await charger.settle()
    assert charger.evse(1).transaction.transaction_id == str(TX16)
    # During it, the same message is tied to the transaction.
    assert await costmsg(rig, "SetUserPrice", user_price) == "Accepted"
    assert charger.display.messages[-1].transaction_id == "4711"

    await rig.clock.advance(90)
    assert await costmsg(rig, "RunningCost", RUNNING_COST) == "Accepted"
    running = charger.display.messages[-1]
    assert running.kind == "running" and running.transaction_id == "4711"
    assert running.amount == Decimal("12345.67")
    assert isinstance(running.amount, Decimal)
    assert running.energy_wh == 1_234_000
    assert running.price == ChargingPrice(Decimal("0.123"), Decimal("2.00"), Decimal("42.42"))
    assert running.text == "EUR 12345.67 so far @ 0.123/kWh"
    assert running.at == rig.clock.now()
    assert charger.display.running_cost("4711") == Decimal("12345.67")
    assert charger.display.final_cost("4711") is None

    await charger.stop_transaction(1, "Local")
    await charger.settle()
    # More digits than a float holds: the amount is the decimal text that was sent.
    final = '{"transactionId": 4711, "cost": 1234567890123.4567891, "priceText": "Total EUR"}'
    assert await costmsg(rig, "FinalCost", final) == "Accepted"
    assert charger.display.final_cost("4711") == Decimal("1234567890123.4567891")
    assert charger.display.texts("4711") == [
        "EUR 0.123/kWh, 2.00/h",
        "EUR 12345.67 so far @ 0.123/kWh",
        "Total EUR",
    ]
    assert [s.source for s in charger.display.messages] == [
        "DataTransfer.SetUserPrice",
        "DataTransfer.SetUserPrice",
        "DataTransfer.RunningCost",
        "DataTransfer.FinalCost",
    ]
    assert rig.shown == list(charger.display.messages)  # the hook saw each, in order


@pytest.mark.parametrize(
    ("message_id", "data"),
    [
        ("RunningCost", "{not json"),
        ("RunningCost", None),
        ("RunningCost", "[1, 2]"),
        ("RunningCost", RUNNING_COST.replace('"cost": 12345.67,', "")),  # cost missing
        ("RunningCost", RUNNING_COST.replace("12345.67", '"12345.67"')),  # cost not a number
        ("RunningCost", RUNNING_COST.replace("12345.67", "NaN")),
        ("RunningCost", RUNNING_COST.replace('"Charging"', '"Sleeping"')),
        ("RunningCost", RUNNING_COST.replace("2025-01-01T00:00:00.000Z", "yesterday")),
        ("RunningCost", RUNNING_COST.replace("1234000", "1234.5")),  # meterValue: whole Wh
        ("FinalCost", '{"transactionId": 4711, "cost": 3.31}'),  # priceText missing
        ("FinalCost", '{"transactionId": "4711", "cost": 3.31, "priceText": "x"}'),
        ("FinalCost", '{"transactionId": true, "cost": 3.31, "priceText": "x"}'),
        ("SetUserPrice", '{"priceText": "EUR 0.12/kWh"}'),  # idToken missing
    ],
)
async def test_v16_malformed_cost_messages_are_rejected(rig16, message_id, data):
    assert await costmsg(rig16, message_id, data) == "Rejected"
    assert rig16.charger.display.messages == ()
    assert rig16.shown == []


async def test_v16_a_failing_hook_changes_nothing_on_the_wire(rig16):
    def broken(shown: DisplayedCost) -> None:
        raise RuntimeError("recorder bug")

    rig16.charger.on_display = broken
    final = '{"transactionId": 1, "cost": 3.31, "priceText": "x"}'
    assert await costmsg(rig16, "FinalCost", final) == "Accepted"
    assert rig16.charger.display.final_cost("1") == Decimal("3.31")


async def test_v16_unknown_vendor_and_message_ids(rig16):
    final = '{"transactionId": 1, "cost": 3.31, "priceText": "x"}'
    assert await costmsg(rig16, "FinalCost", final, vendor="com.example") == "UnknownVendorId"
    assert await costmsg(rig16, "SetPrice", final) == "UnknownMessageId"
    assert await costmsg(rig16, None, final) == "UnknownMessageId"
    assert rig16.charger.display.messages == ()


async def test_v16_advertises_that_it_shows_cost_and_price(rig16):
    reply = await rig16.call(call16.GetConfiguration(key=["CustomDisplayCostAndPrice"]))
    assert reply.configuration_key == [
        {"key": "CustomDisplayCostAndPrice", "readonly": True, "value": "true"}
    ]
    change = call16.ChangeConfiguration(key="CustomDisplayCostAndPrice", value="false")
    assert (await rig16.call(change)).status == "Rejected"


# -- OCPP 2.0.1: CostUpdated, TransactionEventResponse, SetDisplayMessage -------------------------
def variable(component: str, name: str, instance: str | None = None) -> dict:
    item = {"component": {"name": component}, "variable": {"name": name}}
    if instance is not None:
        item["variable"]["instance"] = instance
    return item


async def test_v201_running_and_final_cost_and_tariff_text(rig201):
    rig, charger = rig201, rig201.charger
    peer = await rig.peer()
    peer.answers = {
        "Started": {
            "updated_personal_message": {
                "format": "UTF8",
                "language": "en",
                "content": "EUR 0.25/kWh",
            }
        },
        "Updated": {"total_cost": 1.5},
        "Ended": {
            "total_cost": 12345.67,
            "updated_personal_message": {"format": "UTF8", "content": "Total: EUR 12345.67"},
        },
    }
    await charger.plug_in(1)
    transaction = await charger.start_transaction(1, TOKEN)
    charger.set_power(1, 11_000)
    await charger.settle()
    tx = transaction.transaction_id
    (tariff,) = charger.display.messages
    assert (tariff.kind, tariff.transaction_id, tariff.text) == ("tariff", tx, "EUR 0.25/kWh")
    assert tariff.amount is None

    await rig.clock.advance(60)  # TransactionEvent Updated, answered with the running cost
    await charger.settle()
    assert charger.display.running_cost(tx) == Decimal("1.5")

    reply = await rig.call(call201.CostUpdated(total_cost=12.34, transaction_id=tx))
    assert reply == result201.CostUpdated()
    running = charger.display.messages[-1]
    assert (running.kind, running.amount, running.source) == (
        "running",
        Decimal("12.34"),
        "CostUpdated",
    )
    assert running.currency == "EUR" and running.at == rig.clock.now()
    assert charger.display.running_cost(tx) == Decimal("12.34")

    # The CSMS sets the currency the display shows (TariffCostCtrlr.Currency).
    set_currency = call201.SetVariables(
        set_variable_data=[{**variable("TariffCostCtrlr", "Currency"), "attribute_value": "USD"}]
    )
    assert (await rig.call(set_currency)).set_variable_result[0]["attribute_status"] == "Accepted"

    await rig.clock.advance(30)
    await charger.stop_transaction(1, "Local")
    await charger.settle()
    final = charger.display.messages[-1]
    assert (final.kind, final.transaction_id, final.source) == ("final", tx, "TransactionEvent")
    assert final.amount == Decimal("12345.67") and final.currency == "USD"
    assert final.text == "Total: EUR 12345.67"
    assert charger.display.final_cost(tx) == Decimal("12345.67")
    assert charger.display.texts(tx) == ["EUR 0.25/kWh", "Total: EUR 12345.67"]
    assert rig.shown == list(charger.display.messages)


async def test_v201_tariff_cost_variables(rig201):
    rig = rig201
    reply = await rig.call(
        call201.GetVariables(
            get_variable_data=[
                variable("TariffCostCtrlr", "Currency"),
                variable("TariffCostCtrlr", "Enabled", "Tariff"),
                variable("TariffCostCtrlr", "Enabled", "Cost"),
                variable("TariffCostCtrlr", "Enabled"),  # only with an instance
                variable("NoSuchCtrlr", "Enabled"),
            ]
        )
    )
    results = reply.get_variable_result
    assert [(r["attribute_status"], r.get("attribute_value")) for r in results] == [
        ("Accepted", "EUR"),
        ("Accepted", "true"),
        ("Accepted", "true"),
        ("UnknownVariable", None),
        ("UnknownComponent", None),
    ]
    reply = await rig.call(
        call201.SetVariables(
            set_variable_data=[
                {**variable("TariffCostCtrlr", "Currency"), "attribute_value": "euro"},
                {**variable("TariffCostCtrlr", "Enabled", "Cost"), "attribute_value": "false"},
            ]
        )
    )
    assert [r["attribute_status"] for r in reply.set_variable_result] == ["Rejected", "Accepted"]
    # Showing cost is switched off: the message is answered, the display shows nothing.
    await rig.call(call201.CostUpdated(total_cost=1.0, transaction_id="any"))
    assert rig.charger.display.messages == ()


async def test_v201_display_messages(rig201):
    rig, charger = rig201, rig201.charger
    peer = await rig.peer()
    await charger.plug_in(1)
    transaction = await charger.start_transaction(1, TOKEN)
    await charger.settle()
    tx = transaction.transaction_id

    def message(message_id: int, content: str, **extra) -> dict:
        content_type = {"format": "UTF8", "language": "en", "content": content}
        return {"id": message_id, "priority": "NormalCycle", "message": content_type, **extra}

    welcome = message(1, "Welcome, EUR 0.25/kWh")
    assert (await rig.call(call201.SetDisplayMessage(message=welcome))).status == "Accepted"
    for_tx = message(2, "Your price: EUR 0.20/kWh", transaction_id=tx, priority="InFront")
    assert (await rig.call(call201.SetDisplayMessage(message=for_tx))).status == "Accepted"
    unknown = message(3, "nobody", transaction_id="no-such-transaction")
    reply = await rig.call(call201.SetDisplayMessage(message=unknown))
    assert reply.status == "UnknownTransaction"

    shown = [(s.kind, s.transaction_id, s.message_id, s.text) for s in charger.display.messages]
    assert shown == [
        ("message", None, 1, "Welcome, EUR 0.25/kWh"),
        ("message", tx, 2, "Your price: EUR 0.20/kWh"),
    ]
    assert charger.display.texts(tx) == ["Your price: EUR 0.20/kWh"]

    reply = await rig.call(call201.GetDisplayMessages(request_id=7))
    assert reply.status == "Accepted"
    request_id, infos = await asyncio.wait_for(peer.notified.get(), 5)
    assert request_id == 7
    assert sorted(i["id"] for i in infos) == [1, 2]
    assert next(i for i in infos if i["id"] == 2)["transaction_id"] == tx
    reply = await rig.call(call201.GetDisplayMessages(request_id=8, priority="InFront"))
    assert reply.status == "Accepted"
    assert [i["id"] for i in (await asyncio.wait_for(peer.notified.get(), 5))[1]] == [2]
    assert (await rig.call(call201.GetDisplayMessages(request_id=9, id=[99]))).status == "Unknown"

    assert (await rig.call(call201.ClearDisplayMessage(id=1))).status == "Accepted"
    assert (await rig.call(call201.ClearDisplayMessage(id=1))).status == "Unknown"
    # A message for a transaction goes when the transaction ends.
    await charger.stop_transaction(1, "Local")
    await charger.settle()
    assert (await rig.call(call201.ClearDisplayMessage(id=2))).status == "Unknown"
    assert (await rig.call(call201.GetDisplayMessages(request_id=10))).status == "Unknown"
