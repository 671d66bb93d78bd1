"""How OCPP carries a signed reading, in both versions.

2.0.1 has SignedMeterValueType: signedMeterData (the record, Base64), signingMethod,
encodingMethod ("OCMF") and publicKey. 1.6 has only a sampled value with format SignedData; the
OCA application note on signed meter values puts the same object, as JSON text, in its value.
The public key travels along (PublicKeyWithSignedMeterValue) in the OCA envelope
`oca:base16:asn1:<hex DER>`, Base64-encoded, so a reader of the frames alone can verify; the
central system still verifies against the key registered at onboarding, never the one sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from ocmf.record import HEADER, OcmfError
from ocmf.signature import SIGNING_METHOD

ENCODING_METHOD = "OCMF"
_KEY_ENVELOPE = "oca:base16:asn1:"
# A key printed as text: the OCA envelope, or hex digits with spaces, colons or a 0x prefix.
_PRINTED = re.compile(r"^(oca:[^:]*:[^:]*:)?[0-9A-Fa-fx: ]+$")
# What _PRINTED lets through besides hex digits, dropped before decoding.
_NOT_HEX = str.maketrans("", "", "x: ")


@dataclass(frozen=True)
class SignedMeterValue:
    record: str  # the OCMF text
    public_key_der: bytes | None = None  # the key sent along, when it was

    def to_v201(self) -> dict[str, str]:
        """SignedMeterValueType as the `ocpp` library takes it (snake_case)."""
        value = {
            "signed_meter_data": base64.b64encode(self.record.encode("utf-8")).decode(),
            "signing_method": SIGNING_METHOD,
            "encoding_method": ENCODING_METHOD,
            "public_key": "",
        }
        if self.public_key_der is not None:
            value["public_key"] = public_key_to_wire(self.public_key_der)
        return value

    def to_v16(self) -> str:
        """The SignedData sampled value's text: the 2.0.1 object as JSON (OCA note)."""
        wire = self.to_v201()
        return json.dumps(
            {
                "signedMeterData": wire["signed_meter_data"],
                "signingMethod": wire["signing_method"],
                "encodingMethod": wire["encoding_method"],
                "publicKey": wire["public_key"],
            },
            separators=(",", ":"),
        )


def public_key_to_wire(der: bytes) -> str:
    return base64.b64encode((_KEY_ENVELOPE + der.hex().upper()).encode()).decode()


def public_key_from_wire(text: str) -> bytes:
    """The key bytes from a publicKey field, Base64 of: the OCA envelope, printed hex, or the
    DER itself (all three are sent in the field)."""
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise OcmfError("the public key is not Base64") from None
    try:
        printed = decoded.decode("ascii")
    except UnicodeDecodeError:
        printed = None
    if printed is None or not _PRINTED.match(printed):
        return decoded  # not printed text: the DER key itself, Base64-encoded
    if printed.startswith("oca:"):
        parts = printed.split(":", 3)
        if len(parts) != 4 or parts[1] != "base16":
            raise OcmfError(f"unsupported public key envelope {printed[:24]!r}")
        printed = parts[3]
    # Printed keys may carry spaces or a 0x prefix; only the hex digits count.
    digits = printed.removeprefix("0x").translate(_NOT_HEX)
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise OcmfError("the public key is not hexadecimal") from None


def unwrap_signed(signed: str | dict[str, Any]) -> SignedMeterValue:
    """The record (and the key sent along) from what a charger sent: a 2.0.1 object (either
    case of keys), the 1.6 JSON text of one, or a bare record (plain or hex), as older 1.6
    chargers send it."""
    if isinstance(signed, str):
        text = signed.strip()
        if text.startswith(HEADER + "|"):
            return SignedMeterValue(text)
        if text.startswith("{"):
            try:
                signed = json.loads(text)
            except json.JSONDecodeError:
                raise OcmfError("the signed value is neither OCMF nor JSON") from None
        else:
            try:
                return SignedMeterValue(bytes.fromhex(text).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise OcmfError("the signed value is neither OCMF nor hex-encoded OCMF") from None
    if not isinstance(signed, dict):
        raise OcmfError("the signed value is not an object")
    encoding = _field(signed, "encodingMethod", "encoding_method")
    if encoding not in (None, ENCODING_METHOD):
        raise OcmfError(f"signed with encoding {encoding!r}, not OCMF")
    # Some backends name the field signedMeterValue; the record is the same.
    data = _field(signed, "signedMeterData", "signed_meter_data") or signed.get("signedMeterValue")
    if not isinstance(data, str):
        raise OcmfError("the signed value has no signedMeterData")
    try:
        record = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise OcmfError("signedMeterData is not Base64 of UTF-8 text") from None
    key = _field(signed, "publicKey", "public_key")
    return SignedMeterValue(record, public_key_from_wire(key) if key else None)


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    return obj.get(camel, obj.get(snake))
