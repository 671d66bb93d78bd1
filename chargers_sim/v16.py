"""An emulated OCPP 1.6J charge point (connector N is EVSE N)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from chargers_sim.base import TRIGGERABLE, EmulatedCharger, Evse, Transaction
from chargers_sim.driver_display import ChargingPrice
from chargers_sim.smart_charging import (
    WIRE_PURPOSES,
    ChargingProfile,
    ChargingSchedule,
    SchedulePeriod,
)
from ocmf import SignedMeterValue
from ocppj import RpcEndpoint
from ocppj.wire import from_wire_time, to_wire_time

log = logging.getLogger(__name__)

SMART_CHARGING_KEYS = (
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
    "MaxChargingProfilesInstalled",
)
# OCA application note "OCPP & California Pricing Requirements": prices and costs for the
# driver come as DataTransfer of this vendor; CustomDisplayCostAndPrice says the charger shows them.
COST_VENDOR = "org.openchargealliance.costmsg"
READ_ONLY = {
    "NumberOfConnectors",
    "SupportedFeatureProfiles",
    "CustomDisplayCostAndPrice",
    *SMART_CHARGING_KEYS,
}


class BadCostMessage(ValueError):
    """A costmsg DataTransfer whose data is not what the application note defines."""


def _reject_constant(name: str) -> Any:
    raise BadCostMessage(f"{name} is not an amount")


def cost_message(data: str | None) -> dict[str, Any]:
    """The JSON object in a costmsg `data` string; numbers with a fraction as Decimal."""
    if not isinstance(data, str):
        raise BadCostMessage("data is not a JSON string")
    try:
        fields = json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as error:  # JSONDecodeError is one
        raise BadCostMessage(f"data is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise BadCostMessage("data is not a JSON object")
    return fields


def _field(fields: dict[str, Any], name: str, kind: type | tuple, required: bool = True) -> Any:
    value = fields.get(name)
    if value is None and not required:
        return None
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        raise BadCostMessage(f"{name}: expected {kind}, got {value!r}")
    return value


def _amount(fields: dict[str, Any], name: str, required: bool = True) -> Decimal | None:
    value = _field(fields, name, (Decimal, int), required)
    return None if value is None else Decimal(value)


def profile_from_wire(profile: dict[str, Any], now: datetime) -> ChargingProfile:
    """A 1.6 csChargingProfiles (snake_case keys) as a ChargingProfile; ValueError if unusable.

    1.6 leaves some combinations open that 2.0.1 forbids (K01.FR.38/40/41); a 1.6 charger takes
    them as meant: an Absolute schedule without startSchedule starts now, a Relative one ignores
    startSchedule, and a Relative ChargePointMaxProfile counts from its installation.
    """
    purpose = WIRE_PURPOSES.get(profile["charging_profile_purpose"])
    if purpose is None:
        raise ValueError(f"unknown purpose {profile['charging_profile_purpose']!r}")
    schedule = profile["charging_schedule"]
    kind = profile["charging_profile_kind"]
    start = schedule.get("start_schedule")
    start = from_wire_time(start) if start else None
    if kind == "Relative" and purpose == "ChargePointMax":
        kind, start = "Absolute", now
    elif kind == "Relative":
        start = None
    elif kind == "Absolute" and start is None:
        start = now
    transaction_id = profile.get("transaction_id")
    valid_from, valid_to = profile.get("valid_from"), profile.get("valid_to")
    return ChargingProfile(
        profile_id=profile["charging_profile_id"],
        stack_level=profile["stack_level"],
        purpose=purpose,
        kind=kind,
        recurrency=profile.get("recurrency_kind"),
        valid_from=from_wire_time(valid_from) if valid_from else None,
        valid_to=from_wire_time(valid_to) if valid_to else None,
        transaction_id=None if transaction_id is None else str(transaction_id),
        schedule=ChargingSchedule(
            unit=schedule["charging_rate_unit"],
            periods=tuple(
                SchedulePeriod(p["start_period"], float(p["limit"]), p.get("number_phases"))
                for p in schedule["charging_schedule_period"]
            ),
            start=start,
            duration_s=schedule.get("duration"),
            min_rate=schedule.get("min_charging_rate"),
        ),
    )


class EmulatedChargerV16(EmulatedCharger, RpcEndpoint, ChargePoint):
    subprotocol = "ocpp1.6"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = {
            "HeartbeatInterval": str(self.heartbeat_interval_s),
            "MeterValueSampleInterval": str(self.config.meter_interval_s),
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
            "AuthorizeRemoteTxRequests": "false",
            "LocalAuthorizeOffline": str(self.config.authorize_offline).lower(),
            "NumberOfConnectors": str(self.config.evse_count),
            "SupportedFeatureProfiles": "Core,RemoteTrigger,SmartCharging",
            "ChargeProfileMaxStackLevel": str(self.profiles.max_stack_level),
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "ChargingScheduleMaxPeriods": str(self.profiles.max_periods),
            "MaxChargingProfilesInstalled": str(self.profiles.max_profiles),
            "CustomDisplayCostAndPrice": "true",
        }

    # -- messages to the central system ------------------------------------------------------
    def _new_transaction_id(self) -> None:
        return None  # 1.6: the central system assigns it

    async def _send_boot(self) -> tuple[bool, int]:
        reply = await self.request(
            call.BootNotification(
                charge_point_vendor=self.config.vendor,
                charge_point_model=self.config.model,
                charge_point_serial_number=self.config.serial_number,
                firmware_version=self.config.firmware_version,
            )
        )
        if reply.status == "Accepted":
            self.configuration["HeartbeatInterval"] = str(reply.interval)
        return reply.status == "Accepted", reply.interval

    async def _authorize(self, id_token: str) -> bool:
        reply = await self.request(call.Authorize(id_tag=id_token))
        return reply.id_tag_info["status"] == "Accepted"

    def _heartbeat_request(self):
        return call.Heartbeat()

    def _status_of(self, evse: Evse) -> str:
        if evse.faulted:
            return "Faulted"
        if evse.transaction is not None:
            return "Charging"
        if not evse.operative:
            return "Unavailable"
        if evse.finished:
            return "Finishing"
        return "Preparing" if evse.plugged else "Available"

    def _status_request(self, evse: Evse, status: str):
        return call.StatusNotification(
            connector_id=evse.evse_id,
            error_code="OtherError" if evse.faulted else "NoError",
            status=status,
            timestamp=self.wire_time(),
        )

    def _sampled(
        self,
        evse: Evse,
        context: str,
        with_power: bool,
        register_wh: int | None = None,
        signed: SignedMeterValue | None = None,
    ) -> list[dict]:
        register_wh = evse.meter.register_wh() if register_wh is None else register_wh
        values = [
            {
                "value": str(register_wh),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        ]
        if signed is not None:
            # The OCA application note: the 2.0.1 SignedMeterValue, as JSON, in a SignedData value.
            values.append(
                {
                    "value": signed.to_v16(),
                    "context": context,
                    "format": "SignedData",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                }
            )
        if with_power:
            values.append(
                {
                    "value": f"{evse.meter.power_w:.1f}",
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "unit": "W",
                }
            )
        return values

    def _queue_started(self, evse: Evse, transaction: Transaction) -> None:
        request = call.StartTransaction(
            connector_id=evse.evse_id,
            id_tag=transaction.id_token,
            meter_start=transaction.meter_start_wh,
            # Captured now: a transaction started offline keeps its original time.
            timestamp=self.wire_time(),
        )

        async def on_reply(reply) -> None:
            transaction.transaction_id = str(reply.transaction_id)
            if reply.id_tag_info["status"] != "Accepted" and evse.transaction is transaction:
                await self.stop_transaction(evse.evse_id, "DeAuthorized")

        self.queue(lambda: request, on_reply)
        if transaction.signed_begin is not None:
            # StartTransaction has no place for it: the signed start reading follows in
            # MeterValues (Transaction.Begin), once the transaction id is known.
            begin = [
                {
                    "timestamp": to_wire_time(transaction.started_at),
                    "sampled_value": self._sampled(
                        evse,
                        "Transaction.Begin",
                        False,
                        transaction.meter_start_wh,
                        transaction.signed_begin,
                    ),
                }
            ]
            self.queue(
                lambda: call.MeterValues(
                    connector_id=evse.evse_id,
                    transaction_id=int(transaction.transaction_id),
                    meter_value=begin,
                )
            )

    def _queue_meter_values(self, evse: Evse, transaction: Transaction) -> None:
        meter_value = [
            {
                "timestamp": self.wire_time(),
                "sampled_value": self._sampled(evse, "Sample.Periodic", True),
            }
        ]
        self.queue(
            lambda: call.MeterValues(
                connector_id=evse.evse_id,
                transaction_id=int(transaction.transaction_id),
                meter_value=meter_value,
            )
        )

    def _queue_ended(
        self,
        evse: Evse,
        transaction: Transaction,
        meter_stop_wh: int,
        reason: str,
        signed: SignedMeterValue | None,
    ) -> None:
        timestamp = self.wire_time()
        sampled = self._sampled(evse, "Transaction.End", False, meter_stop_wh, signed)
        data = [{"timestamp": timestamp, "sampled_value": sampled}]
        self.queue(
            lambda: call.StopTransaction(
                meter_stop=meter_stop_wh,
                timestamp=timestamp,
                transaction_id=int(transaction.transaction_id),
                reason=reason,
                id_tag=transaction.id_token,
                transaction_data=data,
            )
        )

    # -- commands from the central system ----------------------------------------------------
    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag, **extra):
        profile = None
        if extra.get("charging_profile") is not None:
            # 5.11: a TxProfile for the transaction to start, which has no id yet.
            try:
                profile = profile_from_wire(extra["charging_profile"], self.clock.now())
            except (KeyError, ValueError) as error:
                log.warning("%s: unusable remote start profile: %s", self.id, error)
                return call_result.RemoteStartTransaction(status="Rejected")
            if profile.purpose != "Tx":
                return call_result.RemoteStartTransaction(status="Rejected")
            profile = replace(profile, transaction_id=None)
        accepted = self._accept_remote_start(id_tag, extra.get("connector_id"), None, profile)
        return call_result.RemoteStartTransaction(status="Accepted" if accepted else "Rejected")

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id):
        accepted = self._accept_remote_stop(str(transaction_id))
        return call_result.RemoteStopTransaction(status="Accepted" if accepted else "Rejected")

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id, type):
        if connector_id != 0 and connector_id not in self.evses:
            return call_result.ChangeAvailability(status="Rejected")
        status = self._change_availability(connector_id, type == "Operative")
        return call_result.ChangeAvailability(status=status)

    @on(Action.reset)
    async def on_reset(self, type):
        self._reset("HardReset" if type == "Hard" else "SoftReset")
        return call_result.Reset(status="Accepted")

    @on(Action.get_configuration)
    async def on_get_configuration(self, key=None):
        wanted = key or list(self.configuration)
        known = [k for k in wanted if k in self.configuration]
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": k in READ_ONLY, "value": self.configuration[k]}
                for k in known
            ],
            unknown_key=[k for k in wanted if k not in self.configuration] or None,
        )

    @on(Action.change_configuration)
    async def on_change_configuration(self, key, value):
        if key not in self.configuration:
            return call_result.ChangeConfiguration(status="NotSupported")
        if key in READ_ONLY:
            return call_result.ChangeConfiguration(status="Rejected")
        self.configuration[key] = value
        if key == "HeartbeatInterval":
            self.heartbeat_interval_s = int(value)
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.trigger_message)
    async def on_trigger_message(self, requested_message, connector_id=None):
        if requested_message not in TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        if connector_id is not None and connector_id not in self.evses:
            return call_result.TriggerMessage(status="Rejected")
        self.after_reply(self._triggered(requested_message, connector_id))
        return call_result.TriggerMessage(status="Accepted")

    def _triggered_meter_values(self, evse: Evse):
        sampled = self._sampled(evse, "Trigger", True)
        return call.MeterValues(
            connector_id=evse.evse_id,
            meter_value=[{"timestamp": self.wire_time(), "sampled_value": sampled}],
        )

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, connector_id):
        if connector_id not in self.evses:
            return call_result.UnlockConnector(status="NotSupported")
        self._unlock(connector_id)
        return call_result.UnlockConnector(status="Unlocked")

    # -- prices and costs for the driver (OCA California Pricing application note) --------------
    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id, message_id=None, data=None):
        if vendor_id != COST_VENDOR:
            return call_result.DataTransfer(status="UnknownVendorId")
        show = {
            "SetUserPrice": self._show_user_price,
            "RunningCost": self._show_running_cost,
            "FinalCost": self._show_final_cost,
        }.get(message_id)
        if show is None:
            return call_result.DataTransfer(status="UnknownMessageId")
        try:
            show(cost_message(data))
        except (BadCostMessage, OCPPError) as error:  # OCPPError: a bad timestamp
            log.info("%s: %s %s rejected: %s", self.id, COST_VENDOR, message_id, error)
            return call_result.DataTransfer(status="Rejected")
        return call_result.DataTransfer(status="Accepted")

    def _show_user_price(self, fields: dict[str, Any]) -> None:
        """SetUserPrice: the driver's price, once they identified; tied to their transaction
        if it is already under way."""
        id_token = _field(fields, "idToken", str)
        text = _field(fields, "priceText", str)
        transaction = next(
            (
                e.transaction
                for e in self.evses.values()
                if e.transaction is not None
                and e.transaction.id_token == id_token
                and e.transaction.transaction_id is not None
            ),
            None,
        )
        self._show(
            "tariff",
            transaction.transaction_id if transaction else None,
            text=text,
            id_token=id_token,
            source="DataTransfer.SetUserPrice",
        )

    def _show_running_cost(self, fields: dict[str, Any]) -> None:
        transaction_id = _field(fields, "transactionId", int)
        from_wire_time(_field(fields, "timestamp", str))  # must be a time
        meter_wh = _field(fields, "meterValue", int)
        cost = _amount(fields, "cost")
        if fields.get("state") not in ("Charging", "Idle"):
            raise BadCostMessage(f"state: {fields.get('state')!r}")
        prices = _field(fields, "chargingPrice", dict, required=False)
        price = None
        if prices is not None:
            price = ChargingPrice(
                kwh_price=_amount(prices, "kWhPrice", required=False),
                hour_price=_amount(prices, "hourPrice", required=False),
                flat_fee=_amount(prices, "flatFee", required=False),
            )
        self._show(
            "running",
            str(transaction_id),
            amount=cost,
            text=_field(fields, "priceText", str, required=False),
            energy_wh=meter_wh,
            price=price,
            source="DataTransfer.RunningCost",
        )

    def _show_final_cost(self, fields: dict[str, Any]) -> None:
        transaction_id = _field(fields, "transactionId", int)
        cost = _amount(fields, "cost")
        text = _field(fields, "priceText", str)
        self._show(
            "final", str(transaction_id), amount=cost, text=text, source="DataTransfer.FinalCost"
        )

    # -- smart charging ----------------------------------------------------------------------
    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id, cs_charging_profiles):
        try:
            profile = profile_from_wire(cs_charging_profiles, self.clock.now())
        except (KeyError, ValueError) as error:
            log.info("%s: SetChargingProfile rejected: %s", self.id, error)
            return call_result.SetChargingProfile(status="Rejected")
        rejection = self._set_charging_profile(connector_id, profile)
        if rejection is not None:
            log.info("%s: SetChargingProfile rejected: %s", self.id, rejection.detail)
        return call_result.SetChargingProfile(status="Rejected" if rejection else "Accepted")

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **criteria):
        purpose = criteria.get("charging_profile_purpose")
        cleared = self._clear_charging_profiles(
            criteria.get("id"),
            evse_id=criteria.get("connector_id"),
            purpose=WIRE_PURPOSES[purpose] if purpose else None,
            stack_level=criteria.get("stack_level"),
        )
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(self, connector_id, duration, charging_rate_unit=None):
        if connector_id != 0 and connector_id not in self.evses:
            return call_result.GetCompositeSchedule(status="Rejected")
        unit = charging_rate_unit or "W"
        start = self.wire_time()
        periods = self._composite_periods(connector_id, duration, unit)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=start,
            charging_schedule={
                "duration": duration,
                "start_schedule": start,
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )
