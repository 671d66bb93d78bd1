"""OCPP 2.0.1 adapter: a thin map between 2.0.1 messages and the charging service."""

from __future__ import annotations

import json
import logging
from typing import Any

from ocpp.charge_point import snake_to_camel_case
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from central_system.domain.model import (
    ChargerIdentity,
    ConnectorStatus,
    MeterSample,
    OcppVersion,
    normalise_unit,
)
from central_system.ocpp.common import (
    TX_PROFILE_STACK_LEVEL,
    CentralSystemEndpoint,
    price_text,
    send_command,
    wire_amount,
)
from central_system.pricing import Money, PriceInterval
from central_system.sessions.service import SessionStart, SessionStop
from ocppj.wire import from_wire_time, to_wire_time

log = logging.getLogger(__name__)


def samples_from_wire(meter_values: list[dict[str, Any]]) -> tuple[MeterSample, ...]:
    samples = []
    for meter_value in meter_values:
        at = from_wire_time(meter_value["timestamp"])
        for sampled in meter_value["sampled_value"]:
            unit_of_measure = sampled.get("unit_of_measure", {})
            value, unit = normalise_unit(
                float(sampled["value"]) * 10 ** unit_of_measure.get("multiplier", 0),
                unit_of_measure.get("unit", "Wh"),
            )
            signed = sampled.get("signed_meter_value")
            samples.append(
                MeterSample(
                    timestamp=at,
                    measurand=sampled.get("measurand", "Energy.Active.Import.Register"),
                    value=value,
                    unit=unit,
                    context=sampled.get("context"),
                    phase=sampled.get("phase"),
                    location=sampled.get("location"),
                    signed_data=_signed_as_sent(signed) if signed else None,
                )
            )
    return tuple(samples)


def _signed_as_sent(signed: dict[str, Any]) -> str:
    """The whole SignedMeterValue (record, methods and the key sent along), as JSON with the
    wire's names, so the stored reading is what the charger sent."""
    return json.dumps(snake_to_camel_case(signed), separators=(",", ":"))


def _setting_address(key: str) -> tuple[dict, dict]:
    """'Component.Variable' -> the component and variable of a Get/SetVariables item."""
    component, _, variable = key.partition(".")
    return {"name": component}, {"name": variable}


class CentralSystemV201(CentralSystemEndpoint, ChargePoint):
    _display_message_id = 0  # SetDisplayMessage ids, counted per connection
    version = OcppVersion.V201

    # -- charging station -> CSMS -----------------------------------------------------------
    @on(Action.boot_notification)
    async def on_boot_notification(self, charging_station, reason, **extra):
        identity = ChargerIdentity(
            vendor=charging_station["vendor_name"],
            model=charging_station["model"],
            serial_number=charging_station.get("serial_number"),
            firmware_version=charging_station.get("firmware_version"),
        )
        now = await self._service.record_boot(self.id, self.version, identity)
        return call_result.BootNotification(
            current_time=to_wire_time(now), interval=self._heartbeat_interval_s, status="Accepted"
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **extra):
        now = await self._service.record_heartbeat(self.id)
        return call_result.Heartbeat(current_time=to_wire_time(now))

    @on(Action.status_notification)
    async def on_status_notification(
        self, timestamp, connector_status, evse_id, connector_id, **extra
    ):
        await self._service.record_status(
            self.id,
            evse_id,
            connector_id,
            ConnectorStatus(connector_status),
            connector_status,
            None,
            from_wire_time(timestamp),
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token, **extra):
        status = await self._service.authorize(id_token["id_token"])
        return call_result.Authorize(id_token_info={"status": status.value})

    @on(Action.transaction_event)
    async def on_transaction_event(
        self, event_type, timestamp, trigger_reason, seq_no, transaction_info, **extra
    ):
        at = from_wire_time(timestamp)
        readings = samples_from_wire(extra.get("meter_value", []))
        id_token = extra["id_token"]["id_token"] if "id_token" in extra else None
        evse = extra.get("evse", {})
        transaction_ref = transaction_info["transaction_id"]
        offline = extra.get("offline", False)
        total_cost = None
        if event_type == "Ended":
            stopped = await self._service.stop_session(
                SessionStop(
                    charger_id=self.id,
                    transaction_ref=transaction_ref,
                    stopped_at=at,
                    reason=transaction_info.get("stopped_reason", "Local"),
                    id_token=id_token,
                    seq_no=seq_no,
                    readings=readings,
                    evse_id=evse.get("id"),
                    connector_id=evse.get("connector_id"),
                    offline=offline,
                )
            )
            if stopped is not None and stopped.total_cost_minor is not None:
                # I03: the final cost goes back in the answer to the Ended event.
                total_cost = wire_amount(Money(stopped.total_cost_minor, stopped.currency))
            authorization = await self._service.authorize(id_token) if id_token else None
        else:
            session = None
            if event_type == "Updated":
                session = await self._service.update_session(
                    self.id, transaction_ref, readings, seq_no=seq_no, id_token=id_token
                )
            if session is None:  # Started, or an update of a transaction we never saw start
                session = await self._service.start_session(
                    SessionStart(
                        charger_id=self.id,
                        evse_id=evse.get("id", 1),
                        connector_id=evse.get("connector_id", 1),
                        id_token=id_token,
                        started_at=at,
                        transaction_ref=transaction_ref,
                        offline=offline,
                        remote_start_id=transaction_info.get("remote_start_id"),
                        seq_no=seq_no,
                        readings=readings,
                    )
                )
                authorization = session.authorization if id_token else None
            else:
                authorization = await self._service.authorize(id_token) if id_token else None
        return call_result.TransactionEvent(
            total_cost=total_cost,
            id_token_info=None if authorization is None else {"status": authorization.value},
        )

    @after(Action.transaction_event)
    def after_transaction_event(self, event_type, **_payload) -> None:
        if event_type != "Updated":
            self._service.sessions_changed(self.id)

    @on(Action.meter_values)
    async def on_meter_values(self, evse_id, meter_value, **extra):
        await self._service.add_meter_values(self.id, evse_id, samples_from_wire(meter_value))
        return call_result.MeterValues()

    @on(Action.notify_report)
    async def on_notify_report(self, request_id, generated_at, seq_no, **extra):
        report = {
            f"{item['component']['name']}.{item['variable']['name']}": {
                a.get("type", "Actual"): a.get("value") for a in item["variable_attribute"]
            }
            for item in extra.get("report_data", [])
        }
        if report:
            await self._service.record_report(self.id, report)
        return call_result.NotifyReport()

    # Notifications real stations send routinely: logged, not (yet) acted upon.
    @on(Action.security_event_notification)
    async def on_security_event(self, type, timestamp, **extra):
        log.warning("%s: security event %s at %s", self.id, type, timestamp)
        return call_result.SecurityEventNotification()

    @on(Action.notify_event)
    async def on_notify_event(self, generated_at, seq_no, event_data, **extra):
        log.info("%s: %d event(s)", self.id, len(event_data))
        return call_result.NotifyEvent()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, status, **extra):
        log.info("%s: firmware %s", self.id, status)
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, status, **extra):
        log.info("%s: log upload %s", self.id, status)
        return call_result.LogStatusNotification()

    # -- CSMS -> charging station (ChargerLink) -----------------------------------------------
    async def remote_start(self, id_token: str, evse_id: int, remote_start_id: int) -> str:
        reply = await send_command(
            self,
            call.RequestStartTransaction(
                id_token={"id_token": id_token, "type": "ISO14443"},
                remote_start_id=remote_start_id,
                evse_id=evse_id,
            ),
        )
        return reply.status

    async def remote_stop(self, transaction_ref: str) -> str:
        reply = await send_command(
            self, call.RequestStopTransaction(transaction_id=transaction_ref)
        )
        return reply.status

    async def change_availability(self, evse_id: int, operative: bool) -> str:
        status = "Operative" if operative else "Inoperative"
        evse = {"id": evse_id} if evse_id else None
        reply = await send_command(
            self, call.ChangeAvailability(operational_status=status, evse=evse)
        )
        return reply.status

    async def reset(self, hard: bool) -> str:
        reply = await send_command(self, call.Reset(type="Immediate" if hard else "OnIdle"))
        return reply.status

    async def get_settings(self, keys: list[str]) -> dict[str, str | None]:
        items = []
        for key in keys:
            component, variable = _setting_address(key)
            items.append({"component": component, "variable": variable})
        reply = await send_command(self, call.GetVariables(get_variable_data=items))
        return {
            f"{r['component']['name']}.{r['variable']['name']}": r.get("attribute_value")
            for r in reply.get_variable_result
        }

    async def set_setting(self, key: str, value: str) -> str:
        component, variable = _setting_address(key)
        reply = await send_command(
            self,
            call.SetVariables(
                set_variable_data=[
                    {"component": component, "variable": variable, "attribute_value": value}
                ]
            ),
        )
        return reply.set_variable_result[0]["attribute_status"]

    async def trigger_message(self, message: str, evse_id: int | None = None) -> str:
        evse = {"id": evse_id} if evse_id is not None else None
        reply = await send_command(self, call.TriggerMessage(requested_message=message, evse=evse))
        return reply.status

    async def unlock_connector(self, evse_id: int, connector_id: int = 1) -> str:
        reply = await send_command(
            self, call.UnlockConnector(evse_id=evse_id, connector_id=connector_id)
        )
        return reply.status

    async def set_power_limit(
        self, evse_id: int, transaction_ref: str, limit_w: float, profile_id: int
    ) -> str:
        profile = {
            "id": profile_id,
            "stack_level": TX_PROFILE_STACK_LEVEL,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Absolute",
            "transaction_id": transaction_ref,
            "charging_schedule": [
                {
                    "id": profile_id,
                    "start_schedule": to_wire_time(self._clock.now()),
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": round(limit_w, 1)}],
                }
            ],
        }
        reply = await send_command(
            self, call.SetChargingProfile(evse_id=evse_id, charging_profile=profile)
        )
        return reply.status

    async def clear_charging_profile(self, profile_id: int) -> str:
        reply = await send_command(self, call.ClearChargingProfile(charging_profile_id=profile_id))
        return reply.status

    async def get_composite_schedule(self, evse_id: int, duration_s: int) -> dict | None:
        reply = await send_command(
            self,
            call.GetCompositeSchedule(duration=duration_s, evse_id=evse_id, charging_rate_unit="W"),
        )
        return reply.schedule if reply.status == "Accepted" else None

    # -- what the driver sees ----------------------------------------------------------------
    async def show_tariff(
        self, transaction_ref: str, id_token: str | None, price: PriceInterval
    ) -> str:
        self._display_message_id += 1
        message = {
            "id": self._display_message_id,
            "priority": "InFront",
            "transaction_id": transaction_ref,
            "message": {"format": "UTF8", "content": price_text(price)},
        }
        reply = await send_command(self, call.SetDisplayMessage(message=message))
        return reply.status

    async def show_running_cost(
        self, transaction_ref: str, cost: Money, energy_wh: int, price: PriceInterval
    ) -> str:
        await send_command(
            self, call.CostUpdated(total_cost=wire_amount(cost), transaction_id=transaction_ref)
        )
        return "Accepted"  # CostUpdated cannot be refused

    async def show_final_cost(
        self, transaction_ref: str, cost: Money, energy_wh: int | None
    ) -> str:
        """Nothing to send: the total went back in the answer to the Ended event (I03)."""
        return "Accepted"
