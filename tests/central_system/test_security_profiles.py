"""OCPP security profiles at the opening handshake, over real TLS on loopback.

1: Basic Auth per charger on plain WebSocket; 2: Basic Auth inside TLS; 3: TLS with client
certificates whose subject CN is the charger id. Refusals happen before any OCPP message.
"""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from central_system.app import CentralSystem
from central_system.security import PasswordRuleError, SecurityConfigError, hash_password
from central_system.store import credentials as credentials_repo
from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger
from evch.cli import app as cli
from ocppj.redact import redacted_logger
from tests.conftest import csms_settings
from tests.security_certs import TestPki

CP_A = "CP-SEC-A"
CP_B = "CP-SEC-B"
PASSWORD_A = "A-password.0f:CP-A+sixteen|more"
PASSWORD_B = "B-password.9e:CP-B+sixteen|more"
WRONG_PASSWORD = "Not-the-password-of-CP-A.1234"
VERSIONS = ["1.6", "2.0.1"]
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
# Refused by TLS, before any HTTP: over TLS 1.3 the client learns it when it reads the answer
# to its upgrade request (no valid HTTP response); over TLS 1.2, during the TLS handshake.
TLS_REFUSAL = (InvalidMessage, ssl.SSLError)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def start_csms(sqlite_url, pki) -> Callable:
    """Starts a central system in a security profile, with CP_A and CP_B registered (and their
    passwords set in profiles 1 and 2); stops it afterwards."""

    @asynccontextmanager
    async def start(profile: int) -> AsyncIterator[CentralSystem]:
        server = pki.server()
        tls = {"tls_cert_file": server.cert, "tls_key_file": server.key} if profile >= 2 else {}
        if profile == 3:
            tls["tls_ca_file"] = pki.ca_file
        central = CentralSystem(
            csms_settings(sqlite_url, auto_register=False, security_profile=profile, **tls)
        )
        await central.start(with_api=False)
        try:
            for charger_id, password in [(CP_A, PASSWORD_A), (CP_B, PASSWORD_B)]:
                await central.service.register_charger(charger_id)
                if profile in (1, 2):
                    await central.credentials.set_password(charger_id, password)
            yield central
        finally:
            await central.stop()

    return start


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def client_tls(pki: TestPki, cert_of: str | None = None, ca_file=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or pki.ca_file)
    if cert_of is not None:
        files = pki.charger(cert_of)
        context.load_cert_chain(files.cert, files.key)
    return context


async def handshake_status(url: str, version: str = "1.6", **options) -> int:
    """The HTTP status that refused the opening handshake (fails the test if it was accepted)."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url,
            subprotocols=[SUBPROTOCOL[version]],
            logger=redacted_logger("websockets.client"),
            open_timeout=5,
            **options,
        ):
            pass
    return refused.value.response.status_code


async def boots(central: CentralSystem, charger_id: str, version: str, **config) -> None:
    """An emulated charger connects and its BootNotification is answered (then powers off)."""
    charger: EmulatedCharger = emulated_charger(
        ChargerConfig(charger_id, central.ocpp_url, ocpp_version=version, **config)
    )
    await charger.power_on()
    try:
        await charger.wait_online(timeout_s=10)
    finally:
        await charger.power_off()
    stored = await central.service.get_charger(charger_id)
    assert stored.last_boot_at is not None
    assert stored.ocpp_version.value == version


# -- profile 1: Basic Auth on plain WebSocket ---------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_profile_1_accepts_the_chargers_password(start_csms, version):
    async with start_csms(1) as central:
        assert central.ocpp_url.startswith("ws://")
        await boots(central, CP_A, version, basic_auth_password=PASSWORD_A)


@pytest.mark.parametrize("version", VERSIONS)
async def test_profile_1_refuses_a_wrong_password_without_logging_it(start_csms, caplog, version):
    caplog.set_level(logging.DEBUG)  # websockets logs every handshake header at DEBUG
    async with start_csms(1) as central:
        url = f"{central.ocpp_url}/{CP_A}"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                url,
                subprotocols=[SUBPROTOCOL[version]],
                additional_headers=basic(CP_A, WRONG_PASSWORD),
                logger=redacted_logger("websockets.client"),
            ):
                pass
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    refusals = [r.getMessage() for r in caplog.records if "refused charger" in r.getMessage()]
    assert refusals == [
        f"refused charger {CP_A!r} at the handshake: wrong password or no password set"
    ]
    secret_forms = [WRONG_PASSWORD, basic(CP_A, WRONG_PASSWORD)["Authorization"].split()[1]]
    assert "Authorization" in caplog.text  # the header was logged, its value was not
    for secret in secret_forms:
        assert secret not in caplog.text


async def test_profile_1_refuses_no_credentials_and_another_chargers_password(start_csms):
    async with start_csms(1) as central:
        url = f"{central.ocpp_url}/{CP_A}"
        assert await handshake_status(url) == 401
        # CP_B's own, valid credentials do not open CP_A's URL ...
        assert await handshake_status(url, additional_headers=basic(CP_B, PASSWORD_B)) == 401
        # ... nor does CP_B's password under CP_A's name.
        assert await handshake_status(url, additional_headers=basic(CP_A, PASSWORD_B)) == 401
        assert await handshake_status(url, additional_headers={"Authorization": "Basic !!"}) == 401
        assert not central.gateway.is_online(CP_A)


async def test_profile_1_refuses_a_charger_without_a_password(start_csms):
    async with start_csms(1) as central:
        await central.service.register_charger("CP-NO-PASSWORD")
        url = f"{central.ocpp_url}/CP-NO-PASSWORD"
        headers = basic("CP-NO-PASSWORD", "")
        assert await handshake_status(url, additional_headers=headers) == 401


async def test_passwords_are_stored_as_salted_hashes(start_csms, sqlite_url):
    async with start_csms(1) as central:
        await central.credentials.set_password(CP_B, PASSWORD_A)  # the same password as CP_A
    engine = create_engine(sqlite_url)
    with engine.connect() as db:
        query = text("SELECT charger_id, password_hash FROM charger_credentials")
        rows = {row.charger_id: row.password_hash for row in db.execute(query)}
    engine.dispose()
    assert set(rows) == {CP_A, CP_B}
    assert rows[CP_A] != rows[CP_B]  # salted: the same password, two hashes
    for stored in rows.values():
        assert stored.startswith("scrypt$")
        assert PASSWORD_A not in stored
        assert base64.b64encode(PASSWORD_A.encode()).decode() not in stored


@pytest.mark.parametrize(
    "password", ["short-15-chars.", "x" * 41, "has space in it 12345", "bang!-not-allowed-1234"]
)
def test_passwords_follow_ocpps_rules(password):
    with pytest.raises(PasswordRuleError):
        hash_password(password)


def test_cli_sets_a_password_from_the_environment_without_echoing_it(sqlite_url, monkeypatch):
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["db", "add-charger", CP_A, "--database-url", sqlite_url]).exit_code == 0
    )
    monkeypatch.setenv("EVCH_CHARGER_PASSWORD", PASSWORD_A)
    result = runner.invoke(cli, ["db", "set-charger-password", CP_A, "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    assert PASSWORD_A not in result.output
    engine = create_engine(sqlite_url)
    with Session(engine) as db:
        stored = credentials_repo.charger_password_hash(db, CP_A)
    engine.dispose()
    assert stored is not None and stored.startswith("scrypt$")
    monkeypatch.setenv("EVCH_CHARGER_PASSWORD", "too-short")
    refused = runner.invoke(cli, ["db", "set-charger-password", CP_A, "--database-url", sqlite_url])
    assert refused.exit_code == 2
    assert "too-short" not in refused.output


# -- profile 2: Basic Auth inside TLS -----------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_profile_2_accepts_the_password_over_tls(start_csms, pki, version):
    async with start_csms(2) as central:
        assert central.ocpp_url.startswith("wss://")
        await boots(
            central, CP_A, version, basic_auth_password=PASSWORD_A, tls_ca_file=str(pki.ca_file)
        )


async def test_profile_2_refuses_a_wrong_or_missing_password(start_csms, pki):
    async with start_csms(2) as central:
        url = f"{central.ocpp_url}/{CP_A}"
        tls = client_tls(pki)
        wrong = basic(CP_A, WRONG_PASSWORD)
        assert await handshake_status(url, "2.0.1", ssl=tls, additional_headers=wrong) == 401
        assert await handshake_status(url, "2.0.1", ssl=tls) == 401


async def test_profile_2_refuses_plain_websocket(start_csms):
    async with start_csms(2) as central:
        plain = central.ocpp_url.replace("wss://", "ws://") + f"/{CP_A}"
        with pytest.raises(TLS_REFUSAL):
            async with connect(
                plain, subprotocols=["ocpp1.6"], additional_headers=basic(CP_A, PASSWORD_A)
            ):
                pass
        assert not central.gateway.is_online(CP_A)


async def test_profile_2_server_is_refused_by_a_charger_that_does_not_trust_its_ca(
    start_csms, tmp_path
):
    other_ca = TestPki(tmp_path / "other", name="Some Other CA")
    async with start_csms(2) as central:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(
                f"{central.ocpp_url}/{CP_A}",
                subprotocols=["ocpp1.6"],
                ssl=ssl.create_default_context(cafile=other_ca.ca_file),
                additional_headers=basic(CP_A, PASSWORD_A),
            ):
                pass


# -- profile 3: client certificates -------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_profile_3_accepts_the_chargers_own_certificate(start_csms, pki, version):
    own = pki.charger(CP_A)
    async with start_csms(3) as central:
        await boots(
            central,
            CP_A,
            version,
            tls_ca_file=str(pki.ca_file),
            tls_cert_file=str(own.cert),
            tls_key_file=str(own.key),
        )


@pytest.mark.parametrize("version", VERSIONS)
async def test_profile_3_refuses_a_valid_certificate_of_another_charger(
    start_csms, pki, caplog, version
):
    caplog.set_level(logging.WARNING)
    async with start_csms(3) as central:
        url = f"{central.ocpp_url}/{CP_A}"
        assert await handshake_status(url, version, ssl=client_tls(pki, cert_of=CP_B)) == 403
        assert not central.gateway.is_online(CP_A)
    assert (
        f"refused charger {CP_A!r} at the handshake: client certificate belongs to {CP_B!r}"
        in caplog.text
    )


async def test_profile_3_refuses_a_charger_without_a_client_certificate(start_csms, pki):
    async with start_csms(3) as central:
        with pytest.raises(TLS_REFUSAL):
            async with connect(
                f"{central.ocpp_url}/{CP_A}",
                subprotocols=["ocpp1.6"],
                ssl=client_tls(pki),
                open_timeout=5,
            ):
                pass
        assert not central.gateway.is_online(CP_A)


async def test_profile_3_refuses_a_certificate_from_another_ca(start_csms, pki, tmp_path):
    rogue = TestPki(tmp_path / "rogue", name="Rogue CA").charger(CP_A)  # the right CN, wrong CA
    context = ssl.create_default_context(cafile=pki.ca_file)
    context.load_cert_chain(rogue.cert, rogue.key)
    async with start_csms(3) as central:
        with pytest.raises(TLS_REFUSAL):
            async with connect(
                f"{central.ocpp_url}/{CP_A}", subprotocols=["ocpp1.6"], ssl=context, open_timeout=5
            ):
                pass
        assert not central.gateway.is_online(CP_A)


async def test_profile_3_refuses_plain_websocket(start_csms):
    async with start_csms(3) as central:
        plain = central.ocpp_url.replace("wss://", "ws://") + f"/{CP_A}"
        with pytest.raises(TLS_REFUSAL):
            async with connect(plain, subprotocols=["ocpp1.6"], open_timeout=5):
                pass


async def test_tls_profiles_need_their_files(sqlite_url):
    central = CentralSystem(csms_settings(sqlite_url, security_profile=3))
    with pytest.raises(SecurityConfigError, match="tls_cert_file"):
        await central.start(with_api=False)
    await central.stop()
