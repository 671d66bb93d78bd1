"""The TLS side of security profiles 2 and 3: the server context and the client's identity.

OCPP asks for TLS 1.2 or newer. In profile 3 the charger must present a certificate that chains
to the configured CA; the OCPP security rules put the charger's unique serial number in the
subject's commonName, and here that is the charger id of the URL.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from central_system.config import Settings


class SecurityConfigError(ValueError):
    """The settings cannot run the security profile they ask for."""


def _readable(path: Path | None, name: str, profile: int) -> Path:
    if path is None:
        raise SecurityConfigError(f"security profile {profile} needs {name}")
    if not Path(path).is_file():
        raise SecurityConfigError(f"{name} {path} is not a readable file")
    return Path(path)


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """None in profiles 0 and 1 (plain WebSocket), else the context the endpoint serves with."""
    profile = settings.security_profile
    if profile not in (0, 1, 2, 3):
        raise SecurityConfigError(f"security profile {profile} does not exist (0 to 3)")
    if profile < 2:
        return None
    cert = _readable(settings.tls_cert_file, "tls_cert_file", profile)
    key = _readable(settings.tls_key_file, "tls_key_file", profile)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if profile == 3:
        context.load_verify_locations(_readable(settings.tls_ca_file, "tls_ca_file", profile))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_common_names(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> list[str]:
    """The commonName values in the subject of the client's verified certificate."""
    if ssl_object is None:
        return []
    certificate = ssl_object.getpeercert() or {}
    return [
        value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
