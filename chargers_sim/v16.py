"""An emulated OCPP 1.6J charge point (connector N is EVSE N)."""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from chargers_sim.base import TRIGGERABLE, EmulatedCharger, Evse, Transaction
from ocppj import RpcEndpoint

READ_ONLY = {"NumberOfConnectors", "SupportedFeatureProfiles"}


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
            "SupportedFeatureProfiles": "Core,RemoteTrigger",
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

    def _sampled(self, evse: Evse, context: str, with_power: bool) -> list[dict]:
        values = [
            {
                "value": str(evse.meter.register_wh()),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        ]
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
        self, evse: Evse, transaction: Transaction, meter_stop_wh: int, reason: str
    ) -> None:
        timestamp = self.wire_time()
        data = [
            {"timestamp": timestamp, "sampled_value": self._sampled(evse, "Transaction.End", False)}
        ]
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
        accepted = self._accept_remote_start(id_tag, extra.get("connector_id"), None)
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
