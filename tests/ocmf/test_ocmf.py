"""OCMF records as the emulated meters sign them: they verify here and in an independent
verifier (pyocmf, strict), any changed character breaks them, and OCPP carries them in every
shape the central system reads."""

from __future__ import annotations

import base64
import json
import re
import warnings
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyocmf.core.ocmf import OCMF
from pyocmf.exceptions import PyOCMFError

from chargers_sim import ChargerConfig
from chargers_sim.signed_meter import MeterSigner, altered, meter_identity
from ocmf import (
    MeterIdentity,
    MeterKey,
    OcmfError,
    ReadingReason,
    SignedMeterValue,
    build_payload,
    parse_record,
    public_key_from_wire,
    unwrap_signed,
    verify_record,
)
from ocmf.transport import public_key_to_wire

AT = datetime(2025, 3, 3, 9, 0, 0, 123_456, tzinfo=UTC)
IDENTITY = meter_identity(ChargerConfig("CP-OCMF", "ws://csms.invalid/ocpp"), evse_id=1)
KEY = MeterKey.derive("evch", IDENTITY.meter_serial)
HEX_DIGITS = "0123456789ABCDEF"


def signer() -> MeterSigner:
    return MeterSigner(IDENTITY, KEY, "AC")


def transaction(begin_wh: int = 1_234, end_wh: int = 8_765) -> tuple[str, str]:
    """A begin and an end record of one transaction, as the emulated meter signs them."""
    meter = signer()
    common = {"id_token": "TAG-VALID", "charge_point": "CP-OCMF 1"}
    begin = meter.sign(reason=ReadingReason.BEGIN, register_wh=begin_wh, at=AT, **common)
    end = meter.sign(
        reason=ReadingReason.END_LOCAL, register_wh=end_wh, at=AT + timedelta(hours=1), **common
    )
    return begin.record, end.record


def strictly_parsed(record: str) -> OCMF:
    """pyocmf's strict parse, any spec warning an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return OCMF.from_string(record, strict=True)


def ours_accepts(record: str, public_key_der: bytes) -> bool:
    """Our verdict; a record we cannot read at all counts as refused."""
    try:
        return verify_record(parse_record(record), public_key_der)
    except OcmfError:
        return False


def pyocmf_accepts(record: str, public_key_der: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lenient: the most a third party would accept
            return OCMF.from_string(record).verify_signature(public_key_der.hex())
    except PyOCMFError:
        return False


def test_the_emulated_meters_records_verify_here_and_with_pyocmf_strictly():
    begin, end = transaction()
    for record in (begin, end):
        assert verify_record(parse_record(record), KEY.public_key_der) is True
        assert strictly_parsed(record).verify_signature(KEY.public_key_der.hex()) is True
    # The Transparenzsoftware's rules: one transaction, begin then end, nothing to object to.
    assert strictly_parsed(begin).check_eichrecht(strictly_parsed(end)) == []
    assert strictly_parsed(begin).check_eichrecht() == []


def _replacements(char: str, section: str) -> str:
    """Other characters that could stand at a position: in SD, a hex digit of another value
    (its case is no change: hex decodes either); in the payload, a digit for a digit, a letter
    for a letter (case counts: the bytes are signed), JSON punctuation for punctuation."""
    if section == "SD":
        return "".join(c for c in HEX_DIGITS + "abcdef" if c.upper() != char.upper())
    if char.isdigit():
        pool = "0123456789"
    elif char.isalpha():
        pool = char.swapcase() + "AaFfZzEeGgSsTt"
    else:
        pool = '{}[]":,.-+ _|/'
    return "".join(dict.fromkeys(c for c in pool if c != char))


def _section(record: str, name: str) -> range:
    """The positions of the payload section, or of the signature data (SD) in the record."""
    start = len("OCMF|")
    if name == "payload":
        return range(start, record.index("|", start))
    sd = record.index('"SD":"') + len('"SD":"')
    return range(sd, record.index('"', sd))


@pytest.mark.parametrize("section", ["payload", "SD"])
def test_any_changed_character_breaks_the_record(section):
    for record in transaction():
        tried = 0
        for position in _section(record, section):
            for char in _replacements(record[position], section):
                changed = record[:position] + char + record[position + 1 :]
                assert not ours_accepts(changed, KEY.public_key_der), (position, char)
                tried += 1
        assert tried > (3_000 if section == "payload" else 1_000)
    # A sample through the independent verifier too: it agrees.
    record = transaction()[1]
    for position in _section(record, section)[::7]:
        char = _replacements(record[position], section)[0]
        changed = record[:position] + char + record[position + 1 :]
        assert not pyocmf_accepts(changed, KEY.public_key_der), (position, char)


def test_the_case_of_the_signature_data_is_no_change():
    record, _ = transaction()
    sd = _section(record, "SD")
    lower = record[: sd.start] + record[sd.start : sd.stop].lower() + record[sd.stop :]
    assert lower != record and ours_accepts(lower, KEY.public_key_der)


def test_the_tamper_fault_is_caught_by_both_verifiers():
    meter = signer()
    signed = meter.sign(
        reason=ReadingReason.END, register_wh=5_000, at=AT, id_token="T", charge_point="CP 1"
    )
    forged = altered(signed, 5_000, 5_500)
    assert '"RV":5500,' in forged.record and forged.record != signed.record
    assert not ours_accepts(forged.record, KEY.public_key_der)
    assert not pyocmf_accepts(forged.record, KEY.public_key_der)


def test_a_key_other_than_the_signers_fails():
    begin, _ = transaction()
    other = MeterKey.derive("evch", "ANOTHER-METER").public_key_der
    assert verify_record(parse_record(begin), other) is False
    assert strictly_parsed(begin).verify_signature(other.hex()) is False
    # A key on another curve cannot verify an ECDSA-secp256r1 record at all: an error, not
    # a forgery.
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = p384.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(OcmfError, match="not a key for ECDSA-secp256r1-SHA256"):
        verify_record(parse_record(begin), der)


def _camel(v201: dict[str, str]) -> dict[str, str]:
    return {re.sub(r"_(\w)", lambda m: m[1].upper(), k): v for k, v in v201.items()}


def test_unwrap_signed_reads_every_shape_ocpp_carries():
    record, _ = transaction()
    sent = SignedMeterValue(record, KEY.public_key_der)
    v201 = sent.to_v201()
    assert set(v201) == {"signed_meter_data", "signing_method", "encoding_method", "public_key"}
    assert v201["encoding_method"] == "OCMF"
    assert v201["signing_method"] == "ECDSA-secp256r1-SHA256"
    assert base64.b64decode(v201["signed_meter_data"]).decode() == record
    v16 = json.loads(sent.to_v16())
    assert v16 == _camel(v201)  # the same object, with the wire's names

    for shape in (v201, _camel(v201), sent.to_v16(), json.dumps(_camel(v201), indent=2)):
        assert unwrap_signed(shape) == sent
    # Older 1.6 chargers send the bare record, plain or hex-encoded: no key comes along.
    assert unwrap_signed(record) == SignedMeterValue(record)
    assert unwrap_signed(record.encode().hex()) == SignedMeterValue(record)
    assert unwrap_signed(f"  {record}\n") == SignedMeterValue(record)
    # Sent without a key (publicKey empty): none is made up.
    keyless = SignedMeterValue(record)
    assert keyless.to_v201()["public_key"] == ""
    assert unwrap_signed(keyless.to_v16()) == keyless

    for bad in ("not ocmf", "{not json", "[1, 2]", {"encodingMethod": "EDL"}, {}):
        with pytest.raises(OcmfError):
            unwrap_signed(bad)


def test_public_key_from_wire_reads_the_envelope_and_plain_hex():
    der = KEY.public_key_der
    envelope = public_key_to_wire(der)
    assert base64.b64decode(envelope).decode() == "oca:base16:asn1:" + der.hex().upper()
    assert public_key_from_wire(envelope) == der
    for printed in (der.hex(), der.hex().upper(), "0x" + der.hex()):
        assert public_key_from_wire(base64.b64encode(printed.encode()).decode()) == der
    for bad in ("***", base64.b64encode(b"oca:base64:asn1:AAAA").decode()):
        with pytest.raises(OcmfError):
            public_key_from_wire(bad)


def test_the_reading_value_keeps_its_digits():
    meter = signer()
    signed = meter.sign(
        reason=ReadingReason.BEGIN,
        register_wh=123_456_789_012,
        at=AT,
        id_token="T",
        charge_point="CP 1",
    )
    assert '"RV":123456789012,"RI":"1-b:1.8.0","RU":"Wh"' in signed.record
    (reading,) = parse_record(signed.record).readings
    assert reading.value == Decimal(123_456_789_012) and reading.unit == "Wh"
    (theirs,) = strictly_parsed(signed.record).payload.RD
    assert Decimal(str(theirs.RV)) == Decimal(123_456_789_012)
    # A meter writing kWh with trailing zeros: parsed as written, never through a float.
    written = signed.record.replace('"RV":123456789012', '"RV":2935.600', 1)
    assert str(parse_record(written).readings[0].value) == "2935.600"


def test_time_is_written_as_the_spec_shows_it():
    in_tehran = timezone(timedelta(hours=3, minutes=30))
    at = datetime(2025, 3, 3, 12, 30, 5, 987_654, tzinfo=in_tehran)
    meter = signer()
    signed = meter.sign(
        reason=ReadingReason.BEGIN, register_wh=0, at=at, id_token="T", charge_point="CP 1"
    )
    (tm,) = re.findall(r'"TM":"([^"]*)"', signed.record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{3}\+0000 S", tm)
    assert tm == "2025-03-03T09:00:05,987+0000 S"  # UTC, milliseconds cut, synchronised
    (reading,) = parse_record(signed.record).readings
    assert reading.time == at.replace(microsecond=987_000) and reading.time_status == "S"
    assert strictly_parsed(signed.record).payload.RD[0].TM is not None


def test_pagination_counts_up_and_never_repeats():
    meter = signer()
    pages = [
        parse_record(
            meter.sign(
                reason=ReadingReason.CHARGING, register_wh=n, at=AT, id_token="T", charge_point="C"
            ).record
        ).pagination
        for n in range(3)
    ]
    assert pages == ["T1", "T2", "T3"]


def begin_payload(meter: MeterIdentity, id_token: str, charge_point: str) -> str:
    return build_payload(
        meter,
        pagination=1,
        id_token=id_token,
        charge_point=charge_point,
        at=datetime(2025, 1, 1, tzinfo=UTC),
        reason=ReadingReason.BEGIN,
        energy_wh=10,
        current_type="AC",
    )


def test_a_pipe_in_an_identifier_is_escaped_so_the_record_stays_three_sections():
    meter = MeterIdentity("G", "GW|1", "1", "V", "M", "GW|1-1", "1")
    key = MeterKey.derive("seed", "GW|1-1")
    record = parse_record(key.sign(begin_payload(meter, "TAG|7", "CP|1 1")))
    assert record.identification == "TAG|7" and record.meter_serial == "GW|1-1"
    assert verify_record(record, key.public_key_der)
    assert OCMF.from_string(record.text, strict=True).verify_signature(key.public_key_der.hex())


def test_a_public_key_sent_as_base64_of_raw_der_is_read():
    key = MeterKey.derive("seed", "M-1")
    assert public_key_from_wire(base64.b64encode(key.public_key_der).decode()) == (
        key.public_key_der
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"SA":"ECDSA-secp256r1-SHA256"', '"SA":["ECDSA-secp256r1-SHA256"]'),
        ('"PG":"T1"', '"PG":1'),
        ('"RU":"Wh"', '"RU":["Wh"]'),
        ('"EF":""', '"EF":1'),
    ],
)
def test_fields_of_the_wrong_json_type_are_malformed_not_a_crash(old: str, new: str):
    key = MeterKey.derive("seed", "M-1")
    meter = MeterIdentity("G", "GW", "1", "V", "M", "M-1", "1")
    record = key.sign(begin_payload(meter, "TAG", "CP 1"))
    assert old in record
    with pytest.raises(OcmfError, match="not a string"):
        parse_record(record.replace(old, new))
