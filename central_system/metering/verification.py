"""Is a session's energy proven by its meter? The signed start and stop readings must exist,
be OCMF, carry the registered meter's valid signature, belong to this session (driver, charge
point, meter, pagination) and say what the charger reported over OCPP.

A pure function of the readings and the registration, so the replay (twin/replay) judges the
recorded frames by exactly the rules the central system applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from central_system.domain.model import (
    ChargingSession,
    Measurand,
    MeterRegistration,
    Verification,
)
from ocmf import (
    OcmfError,
    OcmfRecord,
    ReadingReason,
    parse_record,
    same_public_key,
    unwrap_signed,
    verify_record,
)

BEGIN_CONTEXT = "Transaction.Begin"
END_CONTEXT = "Transaction.End"
_UNIT_WH = {"Wh": Decimal(1), "kWh": Decimal(1000)}
_PAGINATION = re.compile(r"^([TF])(0|[1-9][0-9]*)$")


class Unverified(StrEnum):
    """Why a session's energy is not verified."""

    MISSING_SIGNATURE = "MISSING_SIGNATURE"
    MALFORMED = "MALFORMED"
    UNREGISTERED_KEY = "UNREGISTERED_KEY"
    KEY_MISMATCH = "KEY_MISMATCH"
    METER_MISMATCH = "METER_MISMATCH"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    METER_ERROR = "METER_ERROR"
    SESSION_MISMATCH = "SESSION_MISMATCH"
    VALUE_MISMATCH = "VALUE_MISMATCH"


@dataclass(frozen=True)
class EnergyVerification:
    status: Verification
    energy_wh: int | None = None  # end - begin of the signed readings, when verified
    reason: str | None = None  # "<Unverified code>: <what was found>"
    begin: OcmfRecord | None = None
    end: OcmfRecord | None = None

    @property
    def verified(self) -> bool:
        return self.status is Verification.VERIFIED


class _Refused(Exception):
    def __init__(self, code: Unverified, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")


def verify_session(session: ChargingSession, meter: MeterRegistration | None) -> EnergyVerification:
    """Verify a stopped session from its stored readings."""
    return verify_energy(
        begin=_signed_reading(session, BEGIN_CONTEXT),
        end=_signed_reading(session, END_CONTEXT),
        meter=meter,
        charger_id=session.charger_id,
        evse_id=session.evse_id,
        id_token=session.id_token,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=session.meter_stop_wh,
    )


def verify_energy(
    *,
    begin: str | None,
    end: str | None,
    meter: MeterRegistration | None,
    charger_id: str,
    evse_id: int,
    id_token: str | None,
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
) -> EnergyVerification:
    """Verify a transaction's signed start (`begin`) and stop (`end`) readings, each as the
    charger sent it (see ocmf.unwrap_signed), against the registered meter."""
    records: dict[str, OcmfRecord] = {}
    try:
        for which, signed in (("start", begin), ("stop", end)):
            records[which] = _checked_record(which, signed, meter, charger_id, evse_id, id_token)
        first, last = records["start"], records["stop"]
        begin_wh = _reading_wh(first, "start", expect_end=False)
        end_wh = _reading_wh(last, "stop", expect_end=True)
        _same_transaction(first, last)
        for which, signed_wh, reported in (
            ("start", begin_wh, meter_start_wh),
            ("stop", end_wh, meter_stop_wh),
        ):
            if reported is not None and reported != signed_wh:
                raise _Refused(
                    Unverified.VALUE_MISMATCH,
                    f"the signed {which} reading is {signed_wh} Wh, the charger reported "
                    f"{reported} Wh over OCPP",
                )
        if end_wh < begin_wh:
            raise _Refused(
                Unverified.VALUE_MISMATCH, f"the register ran backwards ({begin_wh} -> {end_wh})"
            )
    except _Refused as refused:
        return EnergyVerification(
            Verification.UNVERIFIED,
            reason=str(refused),
            begin=records.get("start"),
            end=records.get("stop"),
        )
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        # Data no rule above foresaw: the session is unverified, never a failed stop.
        return EnergyVerification(
            Verification.UNVERIFIED, reason=f"{Unverified.MALFORMED.value}: unreadable: {error}"
        )
    return EnergyVerification(Verification.VERIFIED, end_wh - begin_wh, None, first, last)


def _signed_reading(session: ChargingSession, context: str) -> str | None:
    signed = [
        s
        for s in session.readings
        if s.context == context
        and s.signed_data is not None
        and s.measurand == Measurand.ENERGY_IMPORT_REGISTER
    ]
    return signed[-1].signed_data if signed else None


def _checked_record(
    which: str,
    signed: str | None,
    meter: MeterRegistration | None,
    charger_id: str,
    evse_id: int,
    id_token: str | None,
) -> OcmfRecord:
    if signed is None:
        raise _Refused(Unverified.MISSING_SIGNATURE, f"no signed {which} reading")
    try:
        carried = unwrap_signed(signed)
        record = parse_record(carried.record)
    except OcmfError as error:
        raise _Refused(Unverified.MALFORMED, f"the signed {which} reading: {error}") from None
    if meter is None:
        raise _Refused(
            Unverified.UNREGISTERED_KEY,
            f"no meter key is registered for {charger_id} EVSE {evse_id}",
        )
    if record.meter_serial != meter.meter_serial:
        raise _Refused(
            Unverified.METER_MISMATCH,
            f"the {which} reading names meter {record.meter_serial!r}, the registered meter "
            f"is {meter.meter_serial!r}",
        )
    if carried.public_key_der is not None and not same_public_key(
        carried.public_key_der, meter.public_key_der
    ):
        raise _Refused(
            Unverified.KEY_MISMATCH,
            f"the key sent with the {which} reading is not the meter's registered key",
        )
    try:
        valid = verify_record(record, meter.public_key_der)
    except OcmfError as error:
        raise _Refused(Unverified.MALFORMED, f"the signed {which} reading: {error}") from None
    if not valid:
        reading = record.readings[-1]
        raise _Refused(
            Unverified.BAD_SIGNATURE,
            f"the signature of the {which} reading ({record.pagination}, "
            f"{reading.value} {reading.unit} at {reading.time.isoformat()}) does not match its "
            "data: altered after signing, or signed by another key",
        )
    if id_token is not None and record.identification not in (None, id_token):
        raise _Refused(
            Unverified.SESSION_MISMATCH,
            f"the {which} reading was signed for driver {record.identification!r}, "
            f"not {id_token!r}",
        )
    charge_point = record.charge_point
    if charge_point is not None and charge_point != f"{charger_id} {evse_id}":
        raise _Refused(
            Unverified.SESSION_MISMATCH,
            f"the {which} reading was signed at {charge_point!r}, not {charger_id} {evse_id}",
        )
    return record


def _reading_wh(record: OcmfRecord, which: str, *, expect_end: bool) -> int:
    reading = record.readings[-1] if expect_end else record.readings[0]
    if expect_end:
        right_kind = reading.reason is not None and reading.reason.ends
    else:
        right_kind = reading.reason is ReadingReason.BEGIN
    if not right_kind:
        found = reading.reason.value if reading.reason else "none"
        raise _Refused(Unverified.SESSION_MISMATCH, f"the {which} reading is not one (TX {found})")
    if reading.status != "G" or "E" in reading.error_flags:
        raise _Refused(
            Unverified.METER_ERROR,
            f"the meter reported an error at the {which} (ST {reading.status!r}, "
            f"EF {reading.error_flags!r})",
        )
    scale = _UNIT_WH.get(reading.unit or "")
    if reading.value is None or scale is None:
        raise _Refused(Unverified.MALFORMED, f"the {which} reading has no energy in Wh or kWh")
    wh = reading.value * scale
    if wh != wh.to_integral_value():
        raise _Refused(Unverified.MALFORMED, f"the {which} reading {wh} Wh is not whole Wh")
    return int(wh)


def _same_transaction(begin: OcmfRecord, end: OcmfRecord) -> None:
    """Both readings in the meter's transaction context, the stop after the start."""
    first = _PAGINATION.match(begin.pagination or "")
    last = _PAGINATION.match(end.pagination or "")
    if not first or not last or first[1] != "T" or last[1] != "T":
        raise _Refused(
            Unverified.SESSION_MISMATCH,
            f"pagination {begin.pagination!r} -> {end.pagination!r} is not a transaction's",
        )
    if int(last[2]) <= int(first[2]):
        raise _Refused(
            Unverified.SESSION_MISMATCH,
            f"the stop record ({end.pagination}) does not follow the start ({begin.pagination})",
        )
