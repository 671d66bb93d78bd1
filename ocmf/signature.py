"""ECDSA over an OCMF payload (spec, Tables 8 and 22), with the `cryptography` library."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ocmf.record import HEADER, OcmfError, OcmfRecord

SIGNING_METHOD = "ECDSA-secp256r1-SHA256"
# The spec's signature methods; every one hashes with SHA-256.
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECDSA-secp192r1-SHA256": ec.SECP192R1,
    "ECDSA-secp256k1-SHA256": ec.SECP256K1,
    "ECDSA-secp256r1-SHA256": ec.SECP256R1,
    "ECDSA-brainpool256r1-SHA256": ec.BrainpoolP256R1,
    "ECDSA-secp384r1-SHA256": ec.SECP384R1,
    "ECDSA-brainpool384r1-SHA256": ec.BrainpoolP384R1,
}
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class MeterKey:
    """A meter's signing key (secp256r1). The emulated meters derive theirs from the scenario
    seed and the meter serial, so a run is the same every time; RFC 6979 signatures keep the
    signed frames byte-identical too."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def derive(cls, seed: str, meter_serial: str) -> MeterKey:
        digest = hashlib.sha256(f"evch-meter-key:{seed}:{meter_serial}".encode()).digest()
        scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
        return cls(ec.derive_private_key(scalar, ec.SECP256R1()))

    @cached_property
    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo, DER: how meters print and registries list their keys."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, payload_text: str) -> str:
        """The whole record: header, the payload as given, and the signature section."""
        signature = self.private_key.sign(
            payload_text.encode("utf-8"), ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        )
        section = f'{{"SA":"{SIGNING_METHOD}","SE":"hex","SM":"application/x-der","SD":"{signature.hex().upper()}"}}'  # noqa: E501
        return f"{HEADER}|{payload_text}|{section}"


def same_public_key(first_der: bytes, second_der: bytes) -> bool:
    """Whether two DER keys are one key (a point may be encoded compressed or not)."""
    if first_der == second_der:
        return True
    try:
        first, second = _public_key(first_der), _public_key(second_der)
    except ValueError:
        return False
    return first.public_numbers() == second.public_numbers()


def verify_record(record: OcmfRecord, public_key_der: bytes) -> bool:
    """Whether the record's signature is the key's over its exact payload bytes.

    Raises OcmfError when the signature section or the key cannot be used at all (an unknown
    algorithm, a key on another curve, undecodable data), which is not the same as a forgery.
    """
    method = record.signature.get("SA", SIGNING_METHOD)  # SA omitted: the spec's default
    curve = _CURVES.get(method)
    if curve is None:
        raise OcmfError(f"unsupported signature algorithm {method!r}")
    if record.signature.get("SM", "application/x-der") != "application/x-der":
        raise OcmfError(f"unsupported signature mime type {record.signature['SM']!r}")
    try:
        key = _public_key(public_key_der)
    except ValueError as error:
        raise OcmfError(f"the public key is not a DER SubjectPublicKeyInfo: {error}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, curve):
        raise OcmfError(f"the public key is not a key for {method}")
    try:
        signature = _decode(record.signature["SD"], record.signature.get("SE", "hex"))
        key.verify(signature, record.payload_text.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@lru_cache(maxsize=4096)
def _public_key(der: bytes) -> PublicKeyTypes:
    """A DER key loaded once: a meter's key verifies every record it signs."""
    return serialization.load_der_public_key(der)


def _decode(data: str, encoding: str) -> bytes:
    try:
        if encoding == "hex":
            return bytes.fromhex(data)
        if encoding == "base64":
            return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise OcmfError(f"the signature data is not valid {encoding}") from None
    raise OcmfError(f"unsupported signature encoding {encoding!r}")
