"""An emulated OCPP 2.0.1 charging station (one connector per EVSE)."""

from __future__ import annotations

import itertools
import logging
import re
from decimal import Decimal
from typing import Any

from ocpp.exceptions import FormatViolationError
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from chargers_sim.base import TRIGGERABLE, EmulatedCharger, Evse, Transaction
from chargers_sim.driver_display import DisplayKind, decimal_amount
from chargers_sim.smart_charging import (
    WIRE_PURPOSES,
    ChargingProfile,
    ChargingSchedule,
    Rejection,
    SchedulePeriod,
)
from ocmf import SignedMeterValue
from ocppj import RpcEndpoint
from ocppj.wire import from_wire_time

log = logging.getLogger(__name__)

# The emulator's stop reasons (1.6 vocabulary) as 2.0.1 stoppedReason and triggerReason.
STOP_REASONS = {
    "Remote": ("Remote", "RemoteStop"),
    "EVDisconnected": ("EVDisconnected", "EVCommunicationLost"),
    "DeAuthorized": ("DeAuthorized", "Deauthorized"),
    "UnlockCommand": ("Other", "UnlockCommand"),
    "SoftReset": ("Reboot", "ResetCommand"),
    "HardReset": ("ImmediateReset", "ResetCommand"),
}
READ_ONLY_COMPONENTS = {"SmartChargingCtrlr"}
CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217

# Device model variables are keyed (component, variable), or (component, variable, instance)
# for a variable with an instance, e.g. ("TariffCostCtrlr", "Enabled", "Cost").
VariableKey = tuple[str, ...]


def variable_key(item: dict[str, Any]) -> VariableKey:
    """The store key of a GetVariables / SetVariables item (snake_case keys)."""
    component, variable = item["component"]["name"], item["variable"]["name"]
    instance = item["variable"].get("instance")
    return (component, variable) if instance is None else (component, variable, instance)


def profile_from_wire(
    profile: dict[str, Any], *, new_transaction: bool = False
) -> ChargingProfile | Rejection:
    """A 2.0.1 ChargingProfileType (snake_case keys) as a ChargingProfile, or why not.

    `new_transaction`: the profile came with RequestStartTransaction, for a transaction that
    has no id yet (K05).
    """
    purpose = WIRE_PURPOSES.get(profile["charging_profile_purpose"])
    if purpose is None:  # ChargingStationExternalConstraints: not the CSMS's to set (K01.FR.22)
        return Rejection("InvalidValue", f"{profile['charging_profile_purpose']} cannot be set")
    if purpose == "Tx" and profile.get("transaction_id") is None and not new_transaction:
        return Rejection("InvalidValue", "a TxProfile needs a transactionId")  # K01.FR.03
    if len(profile["charging_schedule"]) != 1:  # more only after NotifyEVChargingNeeds (15118)
        return Rejection("InvalidSchedule", "exactly one chargingSchedule is supported")
    (schedule,) = profile["charging_schedule"]
    start = schedule.get("start_schedule")
    valid_from, valid_to = profile.get("valid_from"), profile.get("valid_to")
    return ChargingProfile(
        profile_id=profile["id"],
        stack_level=profile["stack_level"],
        purpose=purpose,
        kind=profile["charging_profile_kind"],
        recurrency=profile.get("recurrency_kind"),
        valid_from=from_wire_time(valid_from) if valid_from else None,
        valid_to=from_wire_time(valid_to) if valid_to else None,
        transaction_id=None if new_transaction else profile.get("transaction_id"),
        schedule=ChargingSchedule(
            unit=schedule["charging_rate_unit"],
            periods=tuple(
                SchedulePeriod(p["start_period"], float(p["limit"]), p.get("number_phases"))
                for p in schedule["charging_schedule_period"]
            ),
            start=from_wire_time(start) if start else None,
            duration_s=schedule.get("duration"),
            min_rate=schedule.get("min_charging_rate"),
        ),
    )


class EmulatedChargerV201(EmulatedCharger, RpcEndpoint, ChargePoint):
    subprotocol = "ocpp2.0.1"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Transaction ids must be unique across reboots: the boot time makes them so, and
        # stays deterministic under a virtual clock.
        self._transaction_numbers = itertools.count(1)
        self._id_prefix = f"{int(self.clock.now().timestamp()):x}"
        self.variables = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): str(self.heartbeat_interval_s),
            ("SampledDataCtrlr", "TxUpdatedInterval"): str(self.config.meter_interval_s),
            (
                "SampledDataCtrlr",
                "TxUpdatedMeasurands",
            ): "Energy.Active.Import.Register,Power.Active.Import",
            ("AuthCtrlr", "AuthorizeRemoteStart"): "false",
            ("AuthCtrlr", "LocalAuthorizeOffline"): str(self.config.authorize_offline).lower(),
            ("TxCtrlr", "TxStartPoint"): "PowerPathClosed",
            ("TxCtrlr", "TxStopPoint"): "EVConnected,Authorized",
            ("SmartChargingCtrlr", "Enabled"): "true",
            ("SmartChargingCtrlr", "Available"): "true",
            ("SmartChargingCtrlr", "ProfileStackLevel"): str(self.profiles.max_stack_level),
            ("SmartChargingCtrlr", "PeriodsPerSchedule"): str(self.profiles.max_periods),
            ("SmartChargingCtrlr", "RateUnit"): "A,W",
            ("SmartChargingCtrlr", "Phases3to1"): "false",
            # I: showing the driver their tariff and the cost (CostUpdated, totalCost).
            ("TariffCostCtrlr", "Enabled", "Tariff"): "true",
            ("TariffCostCtrlr", "Enabled", "Cost"): "true",
            ("TariffCostCtrlr", "Currency"): self.config.currency,
        }
        # O: the display messages set by the CSMS, by id, as sent (snake_case MessageInfo).
        self.display_messages: dict[int, dict[str, Any]] = {}

    # -- messages to the CSMS ----------------------------------------------------------------
    def _new_transaction_id(self) -> str:
        return f"{self.id[:20]}-{self._id_prefix}-{next(self._transaction_numbers)}"[-36:]

    async def _send_boot(self) -> tuple[bool, int]:
        station = {
            "vendor_name": self.config.vendor,
            "model": self.config.model,
            "firmware_version": self.config.firmware_version,
        }
        if self.config.serial_number:
            station["serial_number"] = self.config.serial_number
        reply = await self.request(
            call.BootNotification(charging_station=station, reason="PowerUp")
        )
        if reply.status == "Accepted":
            self.variables[("OCPPCommCtrlr", "HeartbeatInterval")] = str(reply.interval)
        return reply.status == "Accepted", reply.interval

    async def _authorize(self, id_token: str) -> bool:
        reply = await self.request(
            call.Authorize(id_token={"id_token": id_token, "type": "ISO14443"})
        )
        return reply.id_token_info["status"] == "Accepted"

    def _heartbeat_request(self):
        return call.Heartbeat()

    def _status_of(self, evse: Evse) -> str:
        if evse.faulted:
            return "Faulted"
        if not evse.operative and evse.transaction is None:
            return "Unavailable"
        return "Occupied" if evse.plugged else "Available"

    def _status_request(self, evse: Evse, status: str):
        return call.StatusNotification(
            timestamp=self.wire_time(),
            connector_status=status,
            evse_id=evse.evse_id,
            connector_id=1,
        )

    def _meter_value(
        self,
        evse: Evse,
        context: str,
        with_power: bool,
        register_wh: int | None = None,
        signed: SignedMeterValue | None = None,
    ) -> list[dict]:
        energy = {
            "value": evse.meter.register_wh() if register_wh is None else register_wh,
            "context": context,
            "measurand": "Energy.Active.Import.Register",
            "unit_of_measure": {"unit": "Wh"},
        }
        if signed is not None:
            energy["signed_meter_value"] = signed.to_v201()
        sampled = [energy]
        if with_power:
            sampled.append(
                {
                    "value": round(evse.meter.power_w, 1),
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "unit_of_measure": {"unit": "W"},
                }
            )
        return [{"timestamp": self.wire_time(), "sampled_value": sampled}]

    def _transaction_event(
        self,
        evse: Evse,
        transaction: Transaction,
        event_type: str,
        trigger_reason: str,
        meter_value: list[dict],
        **extra,
    ) -> call.TransactionEvent:
        info = {"transaction_id": transaction.transaction_id}
        info.update(extra.pop("info", {}))
        return call.TransactionEvent(
            event_type=event_type,
            # Both captured when the event happens, not when it is sent.
            timestamp=self.wire_time(),
            trigger_reason=trigger_reason,
            seq_no=next(transaction.seq_no),
            transaction_info=info,
            offline=True if not self.online else None,
            evse={"id": evse.evse_id, "connector_id": 1},
            meter_value=meter_value,
            **extra,
        )

    def _queue_started(self, evse: Evse, transaction: Transaction) -> None:
        info = {"charging_state": "Charging"}
        if transaction.remote_start_id is not None:
            info["remote_start_id"] = transaction.remote_start_id
        request = self._transaction_event(
            evse,
            transaction,
            "Started",
            "RemoteStart" if transaction.remote_start_id is not None else "Authorized",
            self._meter_value(
                evse,
                "Transaction.Begin",
                False,
                transaction.meter_start_wh,
                transaction.signed_begin,
            ),
            info=info,
            id_token={"id_token": transaction.id_token, "type": "ISO14443"},
        )

        async def on_reply(reply) -> None:
            self._show_event_answer(transaction, "Started", reply)
            status = (reply.id_token_info or {}).get("status", "Accepted")
            if status != "Accepted" and evse.transaction is transaction:
                await self.stop_transaction(evse.evse_id, "DeAuthorized")

        self.queue(lambda: request, on_reply)

    def _queue_meter_values(self, evse: Evse, transaction: Transaction) -> None:
        request = self._transaction_event(
            evse,
            transaction,
            "Updated",
            "MeterValuePeriodic",
            self._meter_value(evse, "Sample.Periodic", True),
        )

        async def on_reply(reply) -> None:
            self._show_event_answer(transaction, "Updated", reply)

        self.queue(lambda: request, on_reply)

    def _queue_ended(
        self,
        evse: Evse,
        transaction: Transaction,
        meter_stop_wh: int,
        reason: str,
        signed: SignedMeterValue | None,
    ) -> None:
        stopped_reason, trigger = STOP_REASONS.get(reason, (reason, "StopAuthorized"))
        request = self._transaction_event(
            evse,
            transaction,
            "Ended",
            trigger,
            self._meter_value(evse, "Transaction.End", False, meter_stop_wh, signed),
            info={
                "charging_state": "EVConnected" if evse.plugged else "Idle",
                "stopped_reason": stopped_reason,
            },
        )

        async def on_reply(reply) -> None:
            self._show_event_answer(transaction, "Ended", reply)

        self.queue(lambda: request, on_reply)

    # -- what the driver sees: tariff and cost (I), display messages (O) ------------------------
    def _show_event_answer(self, transaction: Transaction, event_type: str, reply) -> None:
        """TransactionEventResponse: totalCost is the running cost, on Ended the final one
        (I02, I03); updatedPersonalMessage a text for the driver, e.g. the tariff."""
        message = reply.updated_personal_message
        text = message.get("content") if message else None
        if reply.total_cost is not None:
            kind = "final" if event_type == "Ended" else "running"
            try:
                amount = decimal_amount(reply.total_cost)
            except ValueError:  # Infinity or NaN: nothing a display could show
                log.warning("%s: unusable totalCost %r", self.id, reply.total_cost)
                return
            self._show_tariff_or_cost(
                kind, transaction.transaction_id, amount, text, "TransactionEvent"
            )
        elif text is not None:
            self._show_tariff_or_cost(
                "tariff", transaction.transaction_id, None, text, "TransactionEvent"
            )

    def _show_tariff_or_cost(
        self,
        kind: DisplayKind,
        transaction_id: str,
        amount: Decimal | None,
        text: str | None,
        source: str,
    ) -> None:
        """Shown if TariffCostCtrlr.Enabled says the display shows tariffs (costs)."""
        instance = "Tariff" if kind == "tariff" else "Cost"
        if self.variables.get(("TariffCostCtrlr", "Enabled", instance)) != "true":
            return
        currency = self.variables[("TariffCostCtrlr", "Currency")]
        self._show(
            kind,
            transaction_id,
            amount=amount,
            text=text,
            currency=currency if amount is not None else None,
            source=source,
        )

    def _ongoing_transactions(self) -> set[str]:
        return {
            e.transaction.transaction_id for e in self.evses.values() if e.transaction is not None
        }

    def _active_display_messages(self) -> dict[int, dict[str, Any]]:
        """The display messages still to show: not past their end, nor their transaction's."""
        now, ongoing = self.clock.now(), self._ongoing_transactions()
        for message_id, info in list(self.display_messages.items()):
            end = info.get("end_date_time")
            transaction_id = info.get("transaction_id")
            if (end is not None and from_wire_time(end) <= now) or (
                transaction_id is not None and transaction_id not in ongoing
            ):
                del self.display_messages[message_id]  # its time or its transaction is over
        return self.display_messages

    @on(Action.cost_updated)
    async def on_cost_updated(self, total_cost, transaction_id, **extra):
        try:
            amount = decimal_amount(total_cost)
        except ValueError as error:
            raise FormatViolationError(details={"cause": str(error)}) from None
        self._show_tariff_or_cost("running", transaction_id, amount, None, "CostUpdated")
        return call_result.CostUpdated()

    @on(Action.set_display_message)
    async def on_set_display_message(self, message, **extra):
        transaction_id = message.get("transaction_id")
        if transaction_id is not None and transaction_id not in self._ongoing_transactions():
            return call_result.SetDisplayMessage(status="UnknownTransaction")  # O02
        self._active_display_messages()
        self.display_messages[message["id"]] = message  # a known id is replaced (O06)
        self._show(
            "message",
            transaction_id,
            text=message["message"]["content"],
            message_id=message["id"],
            source="SetDisplayMessage",
        )
        return call_result.SetDisplayMessage(status="Accepted")

    @on(Action.get_display_messages)
    async def on_get_display_messages(self, request_id, **criteria):
        wanted = [
            info
            for info in self._active_display_messages().values()
            if (not criteria.get("id") or info["id"] in criteria["id"])
            and (criteria.get("priority") is None or info["priority"] == criteria["priority"])
            and (criteria.get("state") is None or info.get("state") == criteria["state"])
        ]
        if not wanted:
            return call_result.GetDisplayMessages(status="Unknown")
        notify = call.NotifyDisplayMessages(request_id=request_id, message_info=wanted)
        self.after_reply(self._send_now(notify))
        return call_result.GetDisplayMessages(status="Accepted")

    @on(Action.clear_display_message)
    async def on_clear_display_message(self, id, **extra):
        if self._active_display_messages().pop(id, None) is None:
            return call_result.ClearDisplayMessage(status="Unknown")
        return call_result.ClearDisplayMessage(status="Accepted")

    # -- commands from the CSMS --------------------------------------------------------------
    @on(Action.request_start_transaction)
    async def on_request_start(self, id_token, remote_start_id, **extra):
        profile = None
        if extra.get("charging_profile") is not None:
            # K05: a TxProfile for the transaction to start, which has no id yet.
            profile = profile_from_wire(extra["charging_profile"], new_transaction=True)
            if isinstance(profile, Rejection) or profile.purpose != "Tx":
                return call_result.RequestStartTransaction(status="Rejected")
        accepted = self._accept_remote_start(
            id_token["id_token"], extra.get("evse_id"), remote_start_id, profile
        )
        return call_result.RequestStartTransaction(status="Accepted" if accepted else "Rejected")

    @on(Action.request_stop_transaction)
    async def on_request_stop(self, transaction_id, **extra):
        accepted = self._accept_remote_stop(transaction_id)
        return call_result.RequestStopTransaction(status="Accepted" if accepted else "Rejected")

    @on(Action.change_availability)
    async def on_change_availability(self, operational_status, **extra):
        evse_id = extra.get("evse", {}).get("id", 0)
        if evse_id != 0 and evse_id not in self.evses:
            return call_result.ChangeAvailability(status="Rejected")
        status = self._change_availability(evse_id, operational_status == "Operative")
        return call_result.ChangeAvailability(status=status)

    @on(Action.reset)
    async def on_reset(self, type, **extra):
        busy = any(e.transaction for e in self.evses.values())
        on_idle = type == "OnIdle"
        self._reset("HardReset" if not on_idle else "SoftReset", when_idle=on_idle)
        return call_result.Reset(status="Scheduled" if busy and on_idle else "Accepted")

    @on(Action.get_variables)
    async def on_get_variables(self, get_variable_data, **extra):
        results = []
        for item in get_variable_data:
            key = variable_key(item)
            result = {"component": item["component"], "variable": item["variable"]}
            if key in self.variables:
                result.update(attribute_status="Accepted", attribute_value=self.variables[key])
            else:
                result["attribute_status"] = self._unknown(key)
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    async def on_set_variables(self, set_variable_data, **extra):
        results = []
        for item in set_variable_data:
            key = variable_key(item)
            status = "Accepted" if key in self.variables else self._unknown(key)
            if status == "Accepted" and not self._valid_setting(key, item["attribute_value"]):
                status = "Rejected"
            if status == "Accepted":
                self.variables[key] = item["attribute_value"]
                if key == ("OCPPCommCtrlr", "HeartbeatInterval"):
                    self.heartbeat_interval_s = int(item["attribute_value"])
            results.append(
                {
                    "attribute_status": status,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    def _unknown(self, key: VariableKey) -> str:
        known = any(k[0] == key[0] for k in self.variables)
        return "UnknownVariable" if known else "UnknownComponent"

    @staticmethod
    def _valid_setting(key: VariableKey, value: str) -> bool:
        if key[0] in READ_ONLY_COMPONENTS:
            return False
        if key == ("TariffCostCtrlr", "Currency"):
            return CURRENCY.fullmatch(value) is not None
        if key[:2] == ("TariffCostCtrlr", "Enabled"):
            return value in ("true", "false")
        return True

    @on(Action.trigger_message)
    async def on_trigger_message(self, requested_message, **extra):
        if requested_message not in TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        evse_id = extra.get("evse", {}).get("id")
        if evse_id is not None and evse_id not in self.evses:
            return call_result.TriggerMessage(status="Rejected")
        self.after_reply(self._triggered(requested_message, evse_id))
        return call_result.TriggerMessage(status="Accepted")

    def _triggered_meter_values(self, evse: Evse):
        return call.MeterValues(
            evse_id=evse.evse_id, meter_value=self._meter_value(evse, "Trigger", True)
        )

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, evse_id, connector_id, **extra):
        if evse_id not in self.evses or connector_id != 1:
            return call_result.UnlockConnector(status="UnknownConnector")
        self._unlock(evse_id)
        return call_result.UnlockConnector(status="Unlocked")

    # -- smart charging ----------------------------------------------------------------------
    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, evse_id, charging_profile, **extra):
        profile = profile_from_wire(charging_profile)
        rejection = (
            profile
            if isinstance(profile, Rejection)
            else self._set_charging_profile(evse_id, profile)
        )
        if rejection is None:
            return call_result.SetChargingProfile(status="Accepted")
        log.info("%s: SetChargingProfile rejected: %s", self.id, rejection.detail)
        return call_result.SetChargingProfile(
            status="Rejected",
            status_info={
                "reason_code": rejection.reason_code,
                "additional_info": rejection.detail[:512],
            },
        )

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **extra):
        criteria = extra.get("charging_profile_criteria") or {}
        purpose = criteria.get("charging_profile_purpose")
        if purpose is not None and purpose not in WIRE_PURPOSES:
            # ChargingStationExternalConstraints are never cleared by the CSMS (K10)
            return call_result.ClearChargingProfile(status="Unknown")
        cleared = self._clear_charging_profiles(
            extra.get("charging_profile_id"),
            evse_id=criteria.get("evse_id"),
            purpose=WIRE_PURPOSES[purpose] if purpose else None,
            stack_level=criteria.get("stack_level"),
        )
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(self, duration, evse_id, charging_rate_unit=None, **extra):
        if evse_id != 0 and evse_id not in self.evses:
            return call_result.GetCompositeSchedule(
                status="Rejected",
                status_info={"reason_code": "UnknownEvse", "additional_info": f"no EVSE {evse_id}"},
            )
        unit = charging_rate_unit or "W"
        periods = self._composite_periods(evse_id, duration, unit)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": self.wire_time(),
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )
