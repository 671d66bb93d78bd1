"""An emulated OCPP 2.0.1 charging station (one connector per EVSE)."""

from __future__ import annotations

import itertools

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from chargers_sim.base import TRIGGERABLE, EmulatedCharger, Evse, Transaction
from ocppj import RpcEndpoint

# The emulator's stop reasons (1.6 vocabulary) as 2.0.1 stoppedReason and triggerReason.
STOP_REASONS = {
    "Remote": ("Remote", "RemoteStop"),
    "EVDisconnected": ("EVDisconnected", "EVCommunicationLost"),
    "DeAuthorized": ("DeAuthorized", "Deauthorized"),
    "UnlockCommand": ("Other", "UnlockCommand"),
    "SoftReset": ("Reboot", "ResetCommand"),
    "HardReset": ("ImmediateReset", "ResetCommand"),
}


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
        }

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

    def _meter_value(self, evse: Evse, context: str, with_power: bool) -> list[dict]:
        sampled = [
            {
                "value": evse.meter.register_wh(),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "Wh"},
            }
        ]
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
            self._meter_value(evse, "Transaction.Begin", False),
            info=info,
            id_token={"id_token": transaction.id_token, "type": "ISO14443"},
        )

        async def on_reply(reply) -> None:
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
        self.queue(lambda: request)

    def _queue_ended(
        self, evse: Evse, transaction: Transaction, meter_stop_wh: int, reason: str
    ) -> None:
        stopped_reason, trigger = STOP_REASONS.get(reason, (reason, "StopAuthorized"))
        request = self._transaction_event(
            evse,
            transaction,
            "Ended",
            trigger,
            self._meter_value(evse, "Transaction.End", False),
            info={
                "charging_state": "EVConnected" if evse.plugged else "Idle",
                "stopped_reason": stopped_reason,
            },
        )
        self.queue(lambda: request)

    # -- commands from the CSMS --------------------------------------------------------------
    @on(Action.request_start_transaction)
    async def on_request_start(self, id_token, remote_start_id, **extra):
        accepted = self._accept_remote_start(
            id_token["id_token"], extra.get("evse_id"), remote_start_id
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
            key = (item["component"]["name"], item["variable"]["name"])
            result = {"component": item["component"], "variable": item["variable"]}
            if key in self.variables:
                result.update(attribute_status="Accepted", attribute_value=self.variables[key])
            elif any(c == key[0] for c, _ in self.variables):
                result["attribute_status"] = "UnknownVariable"
            else:
                result["attribute_status"] = "UnknownComponent"
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    async def on_set_variables(self, set_variable_data, **extra):
        results = []
        for item in set_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            status = "Accepted" if key in self.variables else "UnknownVariable"
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
