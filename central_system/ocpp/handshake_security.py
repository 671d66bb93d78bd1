"""Security profiles at the opening handshake: who the charger says it is, and the proof.

Profiles 1 and 2: HTTP Basic Auth, user = the charger id of the URL, the password checked
against its stored hash; anything else is answered 401 with a Basic challenge. Profile 3: the
TLS layer has already verified the client certificate against the CA; its subject CN must be the
charger id of the URL, otherwise 403 (a valid certificate, but another charger's). Refusals are
logged with the charger and the reason, never the secret.
"""

from __future__ import annotations

import base64
import binascii
import logging
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from central_system.security import ChargerCredentials, peer_common_names

log = logging.getLogger(__name__)

BASIC_CHALLENGE = 'Basic realm="OCPP", charset="UTF-8"'


def basic_credentials(request: Request) -> tuple[str, bytes] | None:
    """(user, password) of an ``Authorization: Basic`` header; None if absent or malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


def _unauthorized(connection: ServerConnection, charger_id: str, reason: str) -> Response:
    log.warning("refused charger %r at the handshake: %s", charger_id, reason)
    response = connection.respond(HTTPStatus.UNAUTHORIZED, "authentication required\n")
    response.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return response


async def check_basic_auth(
    connection: ServerConnection,
    request: Request,
    charger_id: str,
    credentials: ChargerCredentials,
) -> Response | None:
    """None when the charger proved its password; else the 401 to answer."""
    sent = basic_credentials(request)
    if sent is None:
        return _unauthorized(connection, charger_id, "no Basic Auth credentials")
    user, password = sent
    if user != charger_id:
        return _unauthorized(connection, charger_id, "Basic Auth user is not the charger id")
    if not await credentials.verify(charger_id, password):
        return _unauthorized(connection, charger_id, "wrong password or no password set")
    return None


def check_client_certificate(connection: ServerConnection, charger_id: str) -> Response | None:
    """None when the verified client certificate is the charger's own; else the 403 to answer."""
    names = peer_common_names(connection.transport.get_extra_info("ssl_object"))
    if names == [charger_id]:
        return None
    if not names:
        reason = "no client certificate commonName"
    else:
        reason = f"client certificate belongs to {', '.join(map(repr, names))}"
    log.warning("refused charger %r at the handshake: %s", charger_id, reason)
    return connection.respond(HTTPStatus.FORBIDDEN, "certificate does not match the charger\n")
