"""Verified energy: real emulated chargers (1.6J and 2.0.1) sign their start and stop readings,
the real central system (SQLite) verifies each session against the meter registered at
onboarding, and a reader of the frames alone can verify them too. Then `verify_energy`'s rules
one by one, and the meter registration API."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyocmf.core.ocmf import OCMF

from central_system.app import CentralSystem
from central_system.domain.model import ChargingSession, MeterRegistration, Verification
from central_system.metering.verification import EnergyVerification, Unverified, verify_energy
from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger
from chargers_sim.signed_meter import meter_identity
from ocmf import (
    MeterKey,
    ReadingReason,
    SignedMeterValue,
    build_payload,
    parse_record,
    public_key_from_wire,
    unwrap_signed,
    verify_record,
)
from tests.central_system.test_tokens import START
from tests.clock import ManualClock
from tests.conftest import SECOND_TOKEN, VALID_TOKEN, csms_settings, seed_tokens

ADMIN_TOKEN = "meter-admin-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VERSIONS = ["1.6", "2.0.1"]
POWER_W = 18_000  # 5 Wh a second


@pytest.fixture
async def central(sqlite_url):
    settings = csms_settings(sqlite_url, auto_register=True, admin_token=ADMIN_TOKEN)
    central = CentralSystem(settings, ManualClock(START))
    await central.start()
    await seed_tokens(central)
    yield central
    await central.stop()


@pytest.fixture
async def api(central):
    async with httpx.AsyncClient(base_url=central.api_url, timeout=10) as client:
        yield client


@dataclass
class Frames:
    """What a charger sent, as the text that crossed the socket (a FrameObserver)."""

    sent: list[list] = field(default_factory=list)

    def __call__(self, charger_id: str, direction: str, frame: str) -> None:
        if direction == "out":
            self.sent.append(json.loads(frame))

    def calls(self, action: str) -> list[dict]:
        return [f[3] for f in self.sent if f[0] == 2 and f[2] == action]


def charger_for(central: CentralSystem, charger_id: str, version: str, **config):
    frames = Frames()
    config = ChargerConfig(charger_id, central.ocpp_url, ocpp_version=version, **config)
    return emulated_charger(config, central.clock, frame_observer=frames), frames


async def register_own_meters(central: CentralSystem, charger: EmulatedCharger) -> None:
    """Onboarding: each EVSE's meter serial and the key printed on it."""
    for evse_id, (serial, public_key_der) in charger.meter_keys().items():
        await central.service.register_meter(charger.id, evse_id, serial, public_key_der)


async def one_session(
    central: CentralSystem, charger: EmulatedCharger, wh: int, id_token: str = VALID_TOKEN
) -> ChargingSession:
    """One session of `wh` on EVSE 1, stopped locally; the stored session with its readings."""
    await charger.power_on()
    await charger.wait_online()
    try:
        await charger.plug_in(1)
        await charger.start_transaction(1, id_token)
        await charger.settle()
        charger.set_power(1, POWER_W)
        await central.clock.advance(wh / 5)
        await charger.stop_transaction(1, "Local")
        await charger.settle()
    finally:
        await charger.power_off()
    (session,) = await central.service.list_sessions(charger.id)
    return await central.service.get_session(session.session_id)


def refused_for(session: ChargingSession, code: Unverified) -> None:
    assert session.verification is Verification.UNVERIFIED
    assert session.verification_reason.startswith(f"{code.value}: "), session.verification_reason
    assert session.verified_energy_wh is None


# -- real chargers, real central system, both protocol versions ----------------------------------


@pytest.mark.parametrize("ocpp_version", VERSIONS)
async def test_a_registered_meter_verifies_the_session(central, ocpp_version):
    charger, _ = charger_for(central, f"CP-MV-OK-{ocpp_version}", ocpp_version)
    await register_own_meters(central, charger)
    session = await one_session(central, charger, 7_300)
    assert session.energy_wh == 7_300
    assert session.verification is Verification.VERIFIED
    assert session.verification_reason is None
    assert session.verified_energy_wh == session.energy_wh == 7_300


@pytest.mark.parametrize("ocpp_version", VERSIONS)
async def test_without_a_registered_meter_the_session_is_unverified(central, ocpp_version):
    charger, _ = charger_for(central, f"CP-MV-NOKEY-{ocpp_version}", ocpp_version)
    session = await one_session(central, charger, 3_000)
    assert session.energy_wh == 3_000
    refused_for(session, Unverified.UNREGISTERED_KEY)
    assert f"{charger.id} EVSE 1" in session.verification_reason


@pytest.mark.parametrize("ocpp_version", VERSIONS)
async def test_a_meter_registered_with_another_key_is_a_key_mismatch(central, ocpp_version):
    """The charger sends its meter's key along, and it is not the registered one: refused
    before the signature is even checked (KEY_MISMATCH, on the start reading)."""
    charger, _ = charger_for(central, f"CP-MV-OTHER-{ocpp_version}", ocpp_version)
    ((evse_id, (serial, own_key)),) = charger.meter_keys().items()
    other_key = MeterKey.derive("another-seed", serial).public_key_der
    assert other_key != own_key
    await central.service.register_meter(charger.id, evse_id, serial, other_key)
    session = await one_session(central, charger, 2_000)
    refused_for(session, Unverified.KEY_MISMATCH)
    assert "start reading" in session.verification_reason


@pytest.mark.parametrize("ocpp_version", VERSIONS)
async def test_a_stop_reading_altered_after_signing_is_a_bad_signature(central, ocpp_version):
    charger, _ = charger_for(central, f"CP-MV-TAMPER-{ocpp_version}", ocpp_version)
    await register_own_meters(central, charger)
    charger.tamper_wh = 500
    session = await one_session(central, charger, 4_000)
    # The charger claimed 500 Wh more over OCPP and in the record; the CSMS stored the claim ...
    assert session.meter_stop_wh == session.meter_start_wh + 4_000 + 500
    assert session.energy_wh == 4_500
    # ... but the meter's signature gives it away.
    refused_for(session, Unverified.BAD_SIGNATURE)
    assert "stop reading" in session.verification_reason


@pytest.mark.parametrize("ocpp_version", VERSIONS)
async def test_a_meter_that_does_not_sign_leaves_the_session_unverified(central, ocpp_version):
    charger, frames = charger_for(
        central, f"CP-MV-UNSIGNED-{ocpp_version}", ocpp_version, signs_meter_values=False
    )
    assert charger.meter_keys() == {}
    session = await one_session(central, charger, 1_000)
    assert session.energy_wh == 1_000
    refused_for(session, Unverified.MISSING_SIGNATURE)
    assert all(r.signed_data is None for r in session.readings)
    sent = json.dumps(frames.sent)
    assert frames.sent and not any(m in sent for m in ("signedMeterValue", "SignedData", "OCMF"))


# -- what a reader of the frames alone can verify ------------------------------------------------


def _verifiable(signed: str | dict) -> tuple[str, bytes]:
    """The record and the key sent along with it (publicKey, read from its OCA envelope);
    both verifiers accept the record with that key."""
    carried = unwrap_signed(signed)
    wire = json.loads(signed) if isinstance(signed, str) else signed
    key = public_key_from_wire(wire["publicKey"])
    assert key == carried.public_key_der
    assert verify_record(parse_record(carried.record), key) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theirs = OCMF.from_string(carried.record, strict=True)
    assert theirs.verify_signature(key.hex()) is True
    return carried.record, key


def _begin_end_v201(frames: Frames) -> tuple[dict, dict]:
    events = {e["eventType"]: e for e in frames.calls("TransactionEvent")}
    found = []
    for event_type, context in (("Started", "Transaction.Begin"), ("Ended", "Transaction.End")):
        (sampled,) = [
            s
            for mv in events[event_type]["meterValue"]
            for s in mv["sampledValue"]
            if "signedMeterValue" in s
        ]
        assert sampled["context"] == context
        assert sampled["measurand"] == "Energy.Active.Import.Register"
        signed = sampled["signedMeterValue"]
        assert set(signed) == {"signedMeterData", "signingMethod", "encodingMethod", "publicKey"}
        assert signed["encodingMethod"] == "OCMF"
        assert signed["signingMethod"] == "ECDSA-secp256r1-SHA256"
        found.append((signed, sampled["value"]))
    return found[0], found[1]


def _begin_end_v16(frames: Frames) -> tuple[tuple[str, int], tuple[str, int]]:
    def signed_of(sampled_values: list[dict], context: str) -> tuple[str, int]:
        (signed,) = [s for s in sampled_values if s.get("format") == "SignedData"]
        (plain,) = [s for s in sampled_values if s.get("format") != "SignedData"]
        assert signed["context"] == plain["context"] == context
        assert signed["measurand"] == "Energy.Active.Import.Register"
        return signed["value"], int(plain["value"])

    begins = [
        signed_of(mv["sampledValue"], "Transaction.Begin")
        for meter_values in frames.calls("MeterValues")
        for mv in meter_values["meterValue"]
        if any(s.get("context") == "Transaction.Begin" for s in mv["sampledValue"])
    ]
    (stop,) = frames.calls("StopTransaction")
    ends = [signed_of(mv["sampledValue"], "Transaction.End") for mv in stop["transactionData"]]
    (begin,), (end,) = begins, ends
    assert end[1] == stop["meterStop"]
    return begin, end


@pytest.mark.parametrize("ocpp_version", VERSIONS)
async def test_the_frames_alone_carry_verifiable_signed_readings(central, ocpp_version):
    charger, frames = charger_for(central, f"CP-MV-FRAMES-{ocpp_version}", ocpp_version)
    await register_own_meters(central, charger)
    session = await one_session(central, charger, 5_555)
    assert session.verification is Verification.VERIFIED

    if ocpp_version == "2.0.1":
        begin, end = _begin_end_v201(frames)
    else:
        begin, end = _begin_end_v16(frames)
        for (sent, _), context in ((begin, "Transaction.Begin"), (end, "Transaction.End")):
            # The SignedData value is the 2.0.1 object as JSON text (the OCA note) ...
            assert set(json.loads(sent)) == {
                "signedMeterData",
                "signingMethod",
                "encodingMethod",
                "publicKey",
            }
            # ... and the central system stored exactly what was sent.
            (stored,) = [r for r in session.readings if r.context == context and r.signed_data]
            assert stored.signed_data == sent
    records = {}
    for which, (signed, reported_wh) in (("begin", begin), ("end", end)):
        record, key = _verifiable(signed)
        # The key sent along is the one printed on the meter (registered at onboarding).
        assert key == charger.meter_keys()[1][1]
        (reading,) = parse_record(record).readings
        assert reading.value == reported_wh  # the record says what OCPP said
        records[which] = record
    begin_reading = parse_record(records["begin"]).readings[0]
    end_reading = parse_record(records["end"]).readings[0]
    assert begin_reading.reason is ReadingReason.BEGIN
    assert end_reading.reason is ReadingReason.END_LOCAL  # stopped with reason Local
    assert end_reading.value - begin_reading.value == 5_555 == session.verified_energy_wh
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pair = [OCMF.from_string(records[w], strict=True) for w in ("begin", "end")]
    assert pair[0].check_eichrecht(pair[1]) == []


# -- verify_energy's rules, one by one ------------------------------------------------------------

IDENTITY = meter_identity(ChargerConfig("CP-UNIT", "ws://csms.invalid/ocpp"), evse_id=1)
KEY = MeterKey.derive("unit", IDENTITY.meter_serial)
METER = MeterRegistration("CP-UNIT", 1, IDENTITY.meter_serial, KEY.public_key_der, START)


def signed(
    page: int,
    reason: ReadingReason,
    wh: int,
    *,
    id_token: str = VALID_TOKEN,
    charge_point: str = "CP-UNIT 1",
    meter_state: str = '"EF":"","ST":"G"',
    key: MeterKey = KEY,
    send_key: bool = True,
) -> str:
    """A record signed (validly) by `key`, as a 1.6 SignedData value or stored 2.0.1 one."""
    payload = build_payload(
        IDENTITY,
        pagination=page,
        id_token=id_token,
        charge_point=charge_point,
        at=START + timedelta(minutes=page),
        reason=reason,
        energy_wh=wh,
        current_type="AC",
    )
    payload = payload.replace('"EF":"","ST":"G"', meter_state)  # before signing
    record = key.sign(payload)
    return SignedMeterValue(record, key.public_key_der if send_key else None).to_v16()


BEGIN = signed(1, ReadingReason.BEGIN, 1_000)
END = signed(2, ReadingReason.END, 4_000)


def verify(
    begin: str | None = BEGIN,
    end: str | None = END,
    *,
    meter: MeterRegistration | None = METER,
    id_token: str | None = VALID_TOKEN,
    meter_start_wh: int | None = 1_000,
    meter_stop_wh: int | None = 4_000,
) -> EnergyVerification:
    return verify_energy(
        begin=begin,
        end=end,
        meter=meter,
        charger_id="CP-UNIT",
        evse_id=1,
        id_token=id_token,
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
    )


def refused(verdict: EnergyVerification, code: Unverified, detail: str) -> None:
    assert verdict.status is Verification.UNVERIFIED and not verdict.verified
    assert verdict.energy_wh is None
    assert verdict.reason.startswith(f"{code.value}: "), verdict.reason
    assert detail in verdict.reason, verdict.reason


def test_a_signed_pair_that_matches_the_session_is_verified():
    verdict = verify()
    assert verdict.verified and verdict.energy_wh == 3_000 and verdict.reason is None
    assert verdict.begin.pagination == "T1" and verdict.end.pagination == "T2"
    # The readings OCPP reported are optional (a charger may send only the signed ones).
    assert verify(meter_start_wh=None, meter_stop_wh=None).energy_wh == 3_000
    # Bare records (older 1.6 chargers) verify as well: no key comes along to compare.
    bare = [unwrap_signed(s).record for s in (BEGIN, END)]
    assert verify(*bare).energy_wh == 3_000


def test_missing_malformed_and_unregistered():
    refused(verify(begin=None), Unverified.MISSING_SIGNATURE, "no signed start reading")
    refused(verify(end=None), Unverified.MISSING_SIGNATURE, "no signed stop reading")
    refused(verify(end="OCMF|{}|{}"), Unverified.MALFORMED, "signed stop reading")
    refused(verify(meter=None), Unverified.UNREGISTERED_KEY, "CP-UNIT EVSE 1")
    elsewhere = MeterRegistration("CP-UNIT", 1, "ANOTHER-METER", KEY.public_key_der, START)
    refused(verify(meter=elsewhere), Unverified.METER_MISMATCH, "'ANOTHER-METER'")


def test_another_key_is_a_key_mismatch_when_sent_along_else_a_bad_signature():
    other = MeterRegistration(
        "CP-UNIT", 1, IDENTITY.meter_serial, MeterKey.derive("x", "y").public_key_der, START
    )
    refused(verify(meter=other), Unverified.KEY_MISMATCH, "start reading")
    keyless = [signed(1, ReadingReason.BEGIN, 1_000, send_key=False), END]
    refused(verify(*keyless, meter=other), Unverified.BAD_SIGNATURE, "start reading")
    forged = signed(2, ReadingReason.END, 4_000, key=MeterKey.derive("x", "y"))
    # A forger sending their own key along: the registered key is what counts.
    refused(verify(end=forged), Unverified.KEY_MISMATCH, "stop reading")


def test_a_meter_error_state_is_not_verified_energy():
    failed = signed(2, ReadingReason.END, 4_000, meter_state='"EF":"","ST":"F"')
    refused(verify(end=failed), Unverified.METER_ERROR, "ST 'F'")
    energy_error = signed(1, ReadingReason.BEGIN, 1_000, meter_state='"EF":"E","ST":"G"')
    refused(verify(begin=energy_error), Unverified.METER_ERROR, "EF 'E'")


def test_readings_of_another_session_do_not_verify_this_one():
    other_driver = signed(2, ReadingReason.END, 4_000, id_token=SECOND_TOKEN)
    refused(verify(end=other_driver), Unverified.SESSION_MISMATCH, repr(SECOND_TOKEN))
    other_charger = signed(1, ReadingReason.BEGIN, 1_000, charge_point="CP-ELSEWHERE 1")
    refused(verify(begin=other_charger), Unverified.SESSION_MISMATCH, "'CP-ELSEWHERE 1'")
    other_evse = signed(1, ReadingReason.BEGIN, 1_000, charge_point="CP-UNIT 2")
    refused(verify(begin=other_evse), Unverified.SESSION_MISMATCH, "'CP-UNIT 2'")
    # Pagination: the stop record must come after the start record.
    later_begin = signed(5, ReadingReason.BEGIN, 1_000)
    refused(verify(begin=later_begin), Unverified.SESSION_MISMATCH, "(T2) does not follow")
    refused(verify(begin=END, end=END), Unverified.SESSION_MISMATCH, "TX E")
    swapped = verify(begin=END, end=BEGIN, meter_start_wh=4_000, meter_stop_wh=1_000)
    refused(swapped, Unverified.SESSION_MISMATCH, "the start reading is not one")
    refused(verify(end=BEGIN), Unverified.SESSION_MISMATCH, "the stop reading is not one")


def test_ocpp_values_must_match_the_signed_ones():
    # The record is intact (nothing tampered), but OCPP reported something else.
    refused(
        verify(meter_stop_wh=4_500),
        Unverified.VALUE_MISMATCH,
        "the signed stop reading is 4000 Wh, the charger reported 4500 Wh over OCPP",
    )
    refused(verify(meter_start_wh=999), Unverified.VALUE_MISMATCH, "signed start reading")
    backwards = signed(2, ReadingReason.END, 900)
    refused(verify(end=backwards, meter_stop_wh=900), Unverified.VALUE_MISMATCH, "ran backwards")


# -- the meter registration API ---------------------------------------------------------------


def _pem(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


async def test_meters_are_registered_by_the_admin_and_listed(central, api):
    charger, _ = charger_for(central, "CP-MV-API", "2.0.1", evse_count=2)
    keys = charger.meter_keys()
    assert (await api.post("/chargers", json={"charger_id": charger.id})).status_code == 201
    (serial_1, der_1), (serial_2, der_2) = keys[1], keys[2]
    body_1 = {"meter_serial": serial_1, "public_key": der_1.hex()}

    for headers in ({}, {"Authorization": "Bearer guess"}):
        refused = await api.put(f"/chargers/{charger.id}/meters/1", json=body_1, headers=headers)
        assert refused.status_code == 401, refused.text
        garbage = {"meter_serial": "x", "public_key": "not a key"}
        refused = await api.put(f"/chargers/{charger.id}/meters/1", json=garbage, headers=headers)
        assert refused.status_code == 401  # no hint about the body without the credential
    assert (await api.get(f"/chargers/{charger.id}/meters")).json() == []

    # Hex, as printed on the meter (either case, spaces allowed) ...
    printed = " ".join(der_1.hex()[i : i + 4] for i in range(0, len(der_1.hex()), 4))
    body_1["public_key"] = printed
    put = await api.put(f"/chargers/{charger.id}/meters/1", json=body_1, headers=ADMIN)
    assert put.status_code == 200, put.text
    assert put.json() == {
        "charger_id": charger.id,
        "evse_id": 1,
        "meter_serial": serial_1,
        "public_key": der_1.hex().upper(),
        "registered_at": START.isoformat().replace("+00:00", "Z"),
    }
    # ... or PEM.
    pem = _pem(serialization.load_der_public_key(der_2))
    body_2 = {"meter_serial": serial_2, "public_key": pem}
    put = await api.put(f"/chargers/{charger.id}/meters/2", json=body_2, headers=ADMIN)
    assert put.status_code == 200 and put.json()["public_key"] == der_2.hex().upper()
    assert {(m.evse_id, m.public_key_der) for m in await central.service.meters(charger.id)} == {
        (1, der_1),
        (2, der_2),
    }

    listed = await api.get(f"/chargers/{charger.id}/meters")
    assert listed.status_code == 200
    assert [(m["evse_id"], m["meter_serial"], m["public_key"]) for m in listed.json()] == [
        (1, serial_1, der_1.hex().upper()),
        (2, serial_2, der_2.hex().upper()),
    ]
    assert all(set(m) == set(put.json()) for m in listed.json())
    for evse_id in (1, 2):  # no private key material, in any encoding
        secret = charger.evse(evse_id).signer.key.private_key.private_numbers().private_value
        for text in (f"{secret:x}", f"{secret:X}", str(secret)):
            assert text not in listed.text

    # A meter exchanged: registered again, the new key replaces the old.
    new_der = MeterKey.derive("exchanged", serial_1).public_key_der
    body_1["public_key"] = new_der.hex()
    again = await api.put(f"/chargers/{charger.id}/meters/1", json=body_1, headers=ADMIN)
    assert again.json()["public_key"] == new_der.hex().upper()
    listed = (await api.get(f"/chargers/{charger.id}/meters")).json()
    assert [m["public_key"] for m in listed] == [new_der.hex().upper(), der_2.hex().upper()]

    assert (await api.get("/chargers/CP-NOBODY/meters")).status_code == 404
    unknown = await api.put("/chargers/CP-NOBODY/meters/1", json=body_1, headers=ADMIN)
    assert unknown.status_code == 404 and "not registered" in unknown.json()["message"]
    zero = await api.put(f"/chargers/{charger.id}/meters/0", json=body_1, headers=ADMIN)
    assert zero.status_code == 422
    spec = (await api.get("/openapi.json")).json()
    assert "/api/v1/chargers/{charger_id}/meters/{evse_id}" in spec["paths"]


@pytest.mark.parametrize(
    "make_key, message",
    [
        (lambda: "not a key", "neither hex"),
        (lambda: "00ff", "not a DER SubjectPublicKeyInfo"),
        (lambda: KEY.public_key_der.hex() + "00", "not a DER SubjectPublicKeyInfo"),
        (
            lambda: _pem(rsa.generate_private_key(65537, 2048).public_key()),
            "not an elliptic-curve key",
        ),
        (
            lambda: _pem(ec.generate_private_key(ec.SECP521R1()).public_key()),
            "curve secp521r1 is not one OCMF signs with",
        ),
        (
            lambda: _pem(ec.generate_private_key(ec.SECP256R1()).public_key()).replace(
                "PUBLIC KEY", "EC PUBLIC KEY"
            ),
            "-----BEGIN PUBLIC KEY-----",
        ),
        (lambda: "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----", "not Base64"),
        (lambda: "", "at least 1 character"),
    ],
)
async def test_a_key_that_cannot_sign_ocmf_is_refused(central, api, make_key, message):
    await central.service.register_charger("CP-MV-BADKEY")
    body = {"meter_serial": "M-1", "public_key": make_key()}
    answer = await api.put("/chargers/CP-MV-BADKEY/meters/1", json=body, headers=ADMIN)
    assert answer.status_code == 422
    assert message in answer.text, answer.text
    assert await central.service.meters("CP-MV-BADKEY") == []


def test_the_api_accepts_exactly_the_curves_ocmf_verifies_with():
    from central_system.api.schemas import OCMF_CURVES
    from ocmf.signature import _CURVES

    assert set(OCMF_CURVES) == set(_CURVES.values())


@pytest.mark.parametrize("ocpp_version", VERSIONS)
async def test_a_session_shows_its_verification(central, api, ocpp_version):
    charger, _ = charger_for(central, f"CP-MV-SHOW-{ocpp_version}", ocpp_version)
    await api.post("/chargers", json={"charger_id": charger.id})
    serial, der = charger.meter_keys()[1]
    body = {"meter_serial": serial, "public_key": der.hex()}
    assert (await api.put(f"/chargers/{charger.id}/meters/1", json=body, headers=ADMIN)).is_success
    verified = await one_session(central, charger, 2_500)

    detail = (await api.get(f"/sessions/{verified.session_id}")).json()
    assert detail["verification"] == "verified"
    assert detail["verification_reason"] is None
    assert detail["verified_energy_wh"] == detail["energy_wh"] == 2_500

    charger.tamper_wh = 100  # the next session's stop reading is altered after signing
    await charger.power_on()
    await charger.wait_online()
    await charger.start_transaction(1, VALID_TOKEN)
    await charger.settle()
    charger.set_power(1, POWER_W)
    await central.clock.advance(100)
    await charger.stop_transaction(1, "Local")
    await charger.settle()
    await charger.power_off()
    listed = (await api.get("/sessions", params={"charger_id": charger.id})).json()
    tampered = next(s for s in listed if s["session_id"] != verified.session_id)
    assert tampered["verification"] == "unverified"
    assert tampered["verification_reason"].startswith("BAD_SIGNATURE: ")
    assert tampered["verified_energy_wh"] is None and tampered["energy_wh"] == 600
