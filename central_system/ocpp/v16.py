"""OCPP 1.6J adapter: a thin map between 1.6 messages and the charging service.

1.6 has no EVSE level: connector N is modelled as EVSE N with a single connector 1, and
connector 0 (the charge point itself) as EVSE 0.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

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
    cost_text,
    price_text,
    send_command,
    wire_amount,
)
from central_system.pricing import Money, PriceInterval
from central_system.sessions.service import SessionStart, SessionStop
from ocppj.wire import from_wire_time, to_wire_time

log = logging.getLogger(__name__)

STATUS = {
    "Available": ConnectorStatus.AVAILABLE,
    "Preparing": ConnectorStatus.OCCUPIED,
    "Charging": ConnectorStatus.OCCUPIED,
    "SuspendedEV": ConnectorStatus.OCCUPIED,
    "SuspendedEVSE": ConnectorStatus.OCCUPIED,
    "Finishing": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}
# DataTransfer messages we understand; others are answered UnknownVendorId as the spec asks.
OUR_VENDOR_ID = "org.evch"
# Prices and costs for the driver, as the OCA's California Pricing whitepaper carries them.
COST_VENDOR_ID = "org.openchargealliance.costmsg"


def samples_from_wire(meter_values: list[dict[str, Any]]) -> tuple[MeterSample, ...]:
    samples = []
    for meter_value in meter_values:
        at = from_wire_time(meter_value["timestamp"])
        for sampled in meter_value["sampled_value"]:
            raw = sampled["value"]
            signed = sampled.get("format") == "SignedData"
            try:
                value, unit = normalise_unit(float(raw), sampled.get("unit", "Wh"))
            except ValueError:
                if not signed:
                    raise PropertyConstraintViolationError(
                        details={"cause": f"sampledValue.value {raw!r} is not a number"}
                    ) from None
                value, unit = None, sampled.get("unit", "Wh")
            samples.append(
                MeterSample(
                    timestamp=at,
                    measurand=sampled.get("measurand", "Energy.Active.Import.Register"),
                    value=value,
                    unit=unit,
                    context=sampled.get("context"),
                    phase=sampled.get("phase"),
                    location=sampled.get("location"),
                    signed_data=raw if signed else None,
                )
            )
    return tuple(samples)


class CentralSystemV16(CentralSystemEndpoint, ChargePoint):
    version = OcppVersion.V16

    # -- charger -> central system ------------------------------------------------------------
    @on(Action.boot_notification)
    async def on_boot_notification(self, charge_point_vendor, charge_point_model, **extra):
        identity = ChargerIdentity(
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=extra.get("charge_point_serial_number"),
            firmware_version=extra.get("firmware_version"),
        )
        now = await self._service.record_boot(self.id, self.version, identity)
        return call_result.BootNotification(
            current_time=to_wire_time(now), interval=self._heartbeat_interval_s, status="Accepted"
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        now = await self._service.record_heartbeat(self.id)
        return call_result.Heartbeat(current_time=to_wire_time(now))

    @on(Action.status_notification)
    async def on_status_notification(self, connector_id, error_code, status, **extra):
        at = from_wire_time(extra["timestamp"]) if "timestamp" in extra else self._clock.now()
        await self._service.record_status(
            self.id,
            connector_id,
            1,
            STATUS[status],
            status,
            None if error_code == "NoError" else error_code,
            at,
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag):
        status = await self._service.authorize(id_tag)
        return call_result.Authorize(id_tag_info={"status": status.value})

    @on(Action.start_transaction)
    async def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp, **extra):
        session = await self._service.start_session(
            SessionStart(
                charger_id=self.id,
                evse_id=connector_id,
                connector_id=1,
                id_token=id_tag,
                started_at=from_wire_time(timestamp),
                meter_start_wh=meter_start,
            )
        )
        return call_result.StartTransaction(
            transaction_id=int(session.transaction_ref),
            id_tag_info={"status": session.authorization.value},
        )

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, meter_stop, timestamp, transaction_id, **extra):
        session = await self._service.stop_session(
            SessionStop(
                charger_id=self.id,
                transaction_ref=str(transaction_id),
                stopped_at=from_wire_time(timestamp),
                meter_stop_wh=meter_stop,
                reason=extra.get("reason", "Local"),
                id_token=extra.get("id_tag"),
                readings=samples_from_wire(extra.get("transaction_data", [])),
            )
        )
        if session is None:
            log.warning("%s: StopTransaction for unknown transaction %s", self.id, transaction_id)
        if "id_tag" not in extra:
            return call_result.StopTransaction()
        status = await self._service.authorize(extra["id_tag"])
        return call_result.StopTransaction(id_tag_info={"status": status.value})

    @after(Action.start_transaction)
    def after_start_transaction(self, **_payload) -> None:
        self._service.sessions_changed(self.id)

    @after(Action.stop_transaction)
    def after_stop_transaction(self, **_payload) -> None:
        self._service.sessions_changed(self.id)

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id, meter_value, **extra):
        transaction_id = extra.get("transaction_id")
        await self._service.add_meter_values(
            self.id,
            connector_id,
            samples_from_wire(meter_value),
            None if transaction_id is None else str(transaction_id),
        )
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id, **extra):
        if vendor_id != OUR_VENDOR_ID:
            log.info("%s: DataTransfer from unknown vendor %s", self.id, vendor_id)
            return call_result.DataTransfer(status="UnknownVendorId")
        await self._service.record_report(
            self.id, {f"data_transfer.{extra.get('message_id')}": extra.get("data")}
        )
        return call_result.DataTransfer(status="Accepted")

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, status):
        log.info("%s: diagnostics %s", self.id, status)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, status):
        log.info("%s: firmware %s", self.id, status)
        return call_result.FirmwareStatusNotification()

    # -- central system -> charger (ChargerLink) ----------------------------------------------
    async def remote_start(self, id_token: str, evse_id: int, remote_start_id: int) -> str:
        reply = await send_command(
            self, call.RemoteStartTransaction(id_tag=id_token, connector_id=evse_id)
        )
        return reply.status

    async def remote_stop(self, transaction_ref: str) -> str:
        reply = await send_command(
            self, call.RemoteStopTransaction(transaction_id=int(transaction_ref))
        )
        return reply.status

    async def change_availability(self, evse_id: int, operative: bool) -> str:
        kind = "Operative" if operative else "Inoperative"
        reply = await send_command(self, call.ChangeAvailability(connector_id=evse_id, type=kind))
        return reply.status

    async def reset(self, hard: bool) -> str:
        reply = await send_command(self, call.Reset(type="Hard" if hard else "Soft"))
        return reply.status

    async def get_settings(self, keys: list[str]) -> dict[str, str | None]:
        reply = await send_command(self, call.GetConfiguration(key=keys or None))
        found: dict[str, str | None] = {
            entry["key"]: entry.get("value") for entry in reply.configuration_key or []
        }
        return found | {key: None for key in reply.unknown_key or []}

    async def set_setting(self, key: str, value: str) -> str:
        reply = await send_command(self, call.ChangeConfiguration(key=key, value=value))
        return reply.status

    async def trigger_message(self, message: str, evse_id: int | None = None) -> str:
        reply = await send_command(
            self, call.TriggerMessage(requested_message=message, connector_id=evse_id)
        )
        return reply.status

    async def unlock_connector(self, evse_id: int, connector_id: int = 1) -> str:
        reply = await send_command(self, call.UnlockConnector(connector_id=evse_id))
        return reply.status

    async def set_power_limit(
        self, evse_id: int, transaction_ref: str, limit_w: float, profile_id: int
    ) -> str:
        profile = {
            "charging_profile_id": profile_id,
            "transaction_id": int(transaction_ref),
            "stack_level": TX_PROFILE_STACK_LEVEL,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "start_schedule": to_wire_time(self._clock.now()),
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": round(limit_w, 1)}],
            },
        }
        reply = await send_command(
            self, call.SetChargingProfile(connector_id=evse_id, cs_charging_profiles=profile)
        )
        return reply.status

    async def clear_charging_profile(self, profile_id: int) -> str:
        reply = await send_command(self, call.ClearChargingProfile(id=profile_id))
        return reply.status

    async def get_composite_schedule(self, evse_id: int, duration_s: int) -> dict | None:
        reply = await send_command(
            self,
            call.GetCompositeSchedule(
                connector_id=evse_id, duration=duration_s, charging_rate_unit="W"
            ),
        )
        return reply.charging_schedule if reply.status == "Accepted" else None

    # -- what the driver sees ----------------------------------------------------------------
    async def _cost_message(self, message_id: str, data: dict[str, Any]) -> str:
        reply = await send_command(
            self,
            call.DataTransfer(
                vendor_id=COST_VENDOR_ID, message_id=message_id, data=json.dumps(data)
            ),
        )
        return reply.status

    async def show_tariff(
        self, transaction_ref: str, id_token: str | None, price: PriceInterval
    ) -> str:
        if id_token is None:
            return "Rejected"  # SetUserPrice names the driver by token
        return await self._cost_message(
            "SetUserPrice", {"idToken": id_token, "priceText": price_text(price)}
        )

    async def show_running_cost(
        self, transaction_ref: str, cost: Money, energy_wh: int, price: PriceInterval
    ) -> str:
        kwh_price = Money(price.price_minor_per_kwh, price.currency)
        return await self._cost_message(
            "RunningCost",
            {
                "transactionId": int(transaction_ref),
                "timestamp": to_wire_time(self._clock.now()),
                "meterValue": energy_wh,
                "cost": wire_amount(cost),
                "state": "Charging",
                "chargingPrice": {
                    "kWhPrice": wire_amount(kwh_price),
                    "hourPrice": 0,
                    "flatFee": 0,
                },
                "priceText": f"{cost_text(cost, energy_wh, final=False)}; {price_text(price)}",
            },
        )

    async def show_final_cost(
        self, transaction_ref: str, cost: Money, energy_wh: int | None
    ) -> str:
        return await self._cost_message(
            "FinalCost",
            {
                "transactionId": int(transaction_ref),
                "cost": wire_amount(cost),
                "priceText": cost_text(cost, energy_wh, final=True),
            },
        )
