"""The Open Charge Metering Format (OCMF): signed meter readings as German calibration-law
(Eichrecht) meters write them, and how OCPP 1.6 and 2.0.1 carry them.

The emulated meters (chargers_sim) sign with it; the central system and the replay verify with
it. It follows the public specification (SAFE e.V., OCMF 1.0) so that third-party verifiers
(the Transparenzsoftware, pyocmf) accept what our meters sign.
"""

from ocmf.record import (
    MeterIdentity,
    OcmfError,
    OcmfReading,
    OcmfRecord,
    ReadingReason,
    build_payload,
    parse_record,
)
from ocmf.signature import SIGNING_METHOD, MeterKey, same_public_key, verify_record
from ocmf.transport import SignedMeterValue, public_key_from_wire, unwrap_signed

__all__ = [
    "SIGNING_METHOD",
    "MeterIdentity",
    "MeterKey",
    "OcmfError",
    "OcmfReading",
    "OcmfRecord",
    "ReadingReason",
    "SignedMeterValue",
    "build_payload",
    "parse_record",
    "public_key_from_wire",
    "same_public_key",
    "unwrap_signed",
    "verify_record",
]
