"""OCMF records: `OCMF|{payload}|{signature}`, built for signing and parsed for verifying.

The signature covers the payload section's exact bytes, so a parsed record keeps them
(`payload_text`) and never re-serialises a payload it did not build.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

HEADER = "OCMF"
FORMAT_VERSION = "1.0"
# OBIS code of the active energy import register, the reading calibration law bills on.
ENERGY_IMPORT_OBIS = "1-b:1.8.0"
# Reading fields a reading inherits from the one before it in the same record (spec, Table 7).
_INHERITED = ("TM", "TX", "RI", "RU", "RT", "EF", "ST")


class OcmfError(ValueError):
    """Not an OCMF record, or not one we can read."""


class ReadingReason(StrEnum):
    """TX: why the meter was read (spec, Table 7)."""

    BEGIN = "B"
    CHARGING = "C"
    EXCEPTION = "X"
    END = "E"
    END_LOCAL = "L"
    END_REMOTE = "R"
    END_ABORTED = "A"
    END_POWER_FAILURE = "P"

    @property
    def ends(self) -> bool:
        return self in (self.END, self.END_LOCAL, self.END_REMOTE, self.END_ABORTED,
                        self.END_POWER_FAILURE)  # fmt: skip


@dataclass(frozen=True)
class MeterIdentity:
    """The signing component (gateway) and the meter: who signs, and whose key verifies."""

    gateway: str  # GI: manufacturer and model of the signing system
    gateway_serial: str  # GS
    gateway_version: str  # GV: its software version
    meter_vendor: str  # MV
    meter_model: str  # MM
    meter_serial: str  # MS: with GS, names the key that verifies the record
    meter_firmware: str  # MF


@dataclass(frozen=True)
class OcmfReading:
    """One reading of a record, its inherited fields filled in."""

    time: datetime
    time_status: str  # U, I, S (synchronised) or R
    reason: ReadingReason | None
    value: Decimal | None
    unit: str | None
    obis: str | None
    current_type: str | None
    error_flags: str
    status: str  # G: the meter works; anything else is an error state (spec, Table 10)


@dataclass(frozen=True)
class OcmfRecord:
    text: str
    payload_text: str  # exactly the bytes that were signed
    payload: dict[str, Any]
    signature: dict[str, Any]
    readings: tuple[OcmfReading, ...]

    @property
    def meter_serial(self) -> str | None:
        return self.payload.get("MS")

    @property
    def pagination(self) -> str | None:
        return self.payload.get("PG")

    @property
    def identification(self) -> str | None:
        return self.payload.get("ID")

    @property
    def charge_point(self) -> str | None:
        return self.payload.get("CI")


def ocmf_time(at: datetime) -> str:
    """`2018-07-24T13:22:04,000+0200`: milliseconds after a comma, a colon-free offset."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S,") + f"{at.microsecond // 1000:03d}" + "+0000"


def build_payload(
    meter: MeterIdentity,
    *,
    pagination: int,
    id_token: str,
    charge_point: str,
    at: datetime,
    reason: ReadingReason,
    energy_wh: int,
    current_type: str,
) -> str:
    """The payload section of one transaction reading, in the spec's field order, compact.

    The reading is the meter's register in whole Wh (RU "Wh", a predefined unit), so RV is an
    exact JSON integer and no parser can change its digits.
    """
    payload = {
        "FV": FORMAT_VERSION,
        "GI": meter.gateway,
        "GS": meter.gateway_serial,
        "GV": meter.gateway_version,
        "PG": f"T{pagination}",
        "MV": meter.meter_vendor,
        "MM": meter.meter_model,
        "MS": meter.meter_serial,
        "MF": meter.meter_firmware,
        # The central system authorised the driver: a trusted, not a verified, assignment.
        "IS": True,
        "IL": "TRUSTED",
        "IF": ["OCPP_AUTH"],
        "IT": "CENTRAL",
        "ID": id_token,
        "CT": "CBIDC",
        "CI": charge_point,
        "RD": [
            {
                "TM": f"{ocmf_time(at)} S",
                "TX": reason.value,
                "RV": energy_wh,
                "RI": ENERGY_IMPORT_OBIS,
                "RU": "Wh",
                "RT": current_type,
                "EF": "",
                "ST": "G",
            }
        ],
    }
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    # "|" separates the sections, so no section may contain one: an id with a pipe in it is
    # written as its JSON escape (the same string to any JSON reader).
    return text.replace("|", "\\u007c")


def parse_record(text: str) -> OcmfRecord:
    """Split and read a record; an OcmfError says what is wrong with it."""
    if not text.startswith(HEADER + "|"):
        raise OcmfError("not an OCMF record: it must start with 'OCMF|'")
    parts = text.split("|")
    if len(parts) != 3:
        raise OcmfError(f"an OCMF record has 3 sections separated by '|', this one {len(parts)}")
    _, payload_text, signature_text = parts
    payload = _json_object(payload_text, "payload")
    signature = _json_object(signature_text, "signature")
    if not isinstance(signature.get("SD"), str):
        raise OcmfError("the signature section has no signature data (SD)")
    _strings(signature, ("SA", "SE", "SM"), "signature")
    _strings(payload, ("PG", "MS", "ID", "CI", "IT"), "payload")
    readings = payload.get("RD")
    if not isinstance(readings, list) or not readings:
        raise OcmfError("the payload has no readings (RD)")
    return OcmfRecord(text, payload_text, payload, signature, _readings(readings))


def _json_object(text: str, section: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_float=Decimal)  # keep RV's digits as written
    except json.JSONDecodeError as error:
        raise OcmfError(f"the {section} section is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise OcmfError(f"the {section} section is not a JSON object")
    return value


def _strings(section: dict[str, Any], keys: tuple[str, ...], name: str) -> None:
    """Fields the spec types as strings must be strings (or absent)."""
    for key in keys:
        if key in section and not isinstance(section[key], str):
            raise OcmfError(f"{key} in the {name} section is not a string: {section[key]!r}")


def _readings(raw: list[Any]) -> tuple[OcmfReading, ...]:
    readings, inherited = [], {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise OcmfError(f"reading {index} is not a JSON object")
        fields = {**inherited, **item}
        _strings(fields, ("TX", "RI", "RU", "RT", "EF", "ST"), f"reading {index}")
        inherited = {k: fields[k] for k in _INHERITED if k in fields}
        readings.append(_reading(index, fields))
    return tuple(readings)


def _reading(index: int, fields: dict[str, Any]) -> OcmfReading:
    time_text = fields.get("TM")
    if not isinstance(time_text, str):
        raise OcmfError(f"reading {index} has no time (TM)")
    stamp, _, time_status = time_text.partition(" ")
    try:
        at = datetime.strptime(stamp.replace(",", "."), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        raise OcmfError(f"reading {index}: TM {time_text!r} is not an OCMF time") from None
    reason = fields.get("TX")
    try:
        reason = ReadingReason(reason) if reason is not None else None
    except ValueError:
        raise OcmfError(f"reading {index}: unknown reading reason TX {reason!r}") from None
    value = fields.get("RV")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | Decimal)):
        raise OcmfError(f"reading {index}: RV {value!r} is not a number")
    return OcmfReading(
        time=at,
        time_status=time_status or "U",
        reason=reason,
        value=Decimal(value) if value is not None else None,
        unit=fields.get("RU"),
        obis=fields.get("RI"),
        current_type=fields.get("RT"),
        error_flags=fields.get("EF") or "",
        status=fields.get("ST", ""),
    )
