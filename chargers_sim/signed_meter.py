"""The signing side of an emulated EVSE's meter: OCMF records of its transaction readings, as an
Eichrecht meter signs them, with the key the operator registers at onboarding."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TYPE_CHECKING

from ocmf import MeterIdentity, MeterKey, ReadingReason, SignedMeterValue, build_payload

if TYPE_CHECKING:
    from chargers_sim.base import ChargerConfig

# How a transaction's end reading says why it ended (OCMF TX), from the charger's stop reason.
END_REASONS = {
    "Remote": ReadingReason.END_REMOTE,
    "Local": ReadingReason.END_LOCAL,
    "PowerLoss": ReadingReason.END_POWER_FAILURE,
    "EmergencyStop": ReadingReason.END_ABORTED,
}


def meter_identity(config: ChargerConfig, evse_id: int) -> MeterIdentity:
    """The meter of one EVSE, the charger its signing gateway."""
    gateway_serial = config.serial_number or config.charger_id
    return MeterIdentity(
        gateway=f"{config.vendor} {config.model}",
        gateway_serial=gateway_serial,
        gateway_version=config.firmware_version,
        meter_vendor=config.vendor,
        meter_model="EVCH-EM-1",
        meter_serial=f"{gateway_serial}-{evse_id}",
        meter_firmware="1.0",
    )


class MeterSigner:
    def __init__(self, identity: MeterIdentity, key: MeterKey, current_type: str) -> None:
        self.identity = identity
        self.key = key
        self._current_type = current_type
        # The transaction pagination context: one number per signed record, never reused.
        self._pages = itertools.count(1)

    @classmethod
    def for_evse(cls, config: ChargerConfig, evse_id: int) -> MeterSigner:
        """The meter of one EVSE, its key derived from the config's seed and the meter serial."""
        identity = meter_identity(config, evse_id)
        key = MeterKey.derive(config.meter_key_seed, identity.meter_serial)
        return cls(identity, key, config.current)

    @property
    def serial(self) -> str:
        return self.identity.meter_serial

    def sign(
        self,
        *,
        reason: ReadingReason,
        register_wh: int,
        at: datetime,
        id_token: str,
        charge_point: str,
    ) -> SignedMeterValue:
        payload = build_payload(
            self.identity,
            pagination=next(self._pages),
            id_token=id_token,
            charge_point=charge_point,
            at=at,
            reason=reason,
            energy_wh=register_wh,
            current_type=self._current_type,
        )
        return SignedMeterValue(self.key.sign(payload), self.key.public_key_der)


def altered(signed: SignedMeterValue, signed_wh: int, claimed_wh: int) -> SignedMeterValue:
    """A fault: the record with its reading changed after signing (what a tampered meter or
    charger firmware would send). The signature no longer matches."""
    record = signed.record.replace(f'"RV":{signed_wh},', f'"RV":{claimed_wh},', 1)
    return SignedMeterValue(record, signed.public_key_der)
