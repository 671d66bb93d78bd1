"""Who may call what: every route of /api/v1 needs a credential with one of its roles.

A credential is ``Authorization: Bearer <key>``: an API key from the database (``evch db
add-api-key NAME --role ROLE``; see central_system/access.py) or the admin token of the settings
(``EVCH_ADMIN_TOKEN``, ``evch serve --admin-token``), which has the admin role. No credential,
or an unknown or revoked one, is 401 with ``WWW-Authenticate: Bearer``; a valid one without the
route's role is 403. Only the probes (``/health``) and the OpenAPI document and docs are open.

The role matrix (the admin may do everything):

====================================================  =====  ========  =======  =========
route                                                 admin  operator  analyst  regulator
====================================================  =====  ========  =======  =========
GET chargers, a charger, its meters                   yes    yes       yes      yes
POST chargers, POST chargers/{id}/remote-start        yes    yes
PUT chargers/{id}/meters/{evse} (a meter's key)       yes
PUT sites/{id} (set up a site: grid limit, tariff)    yes
GET sessions, a session (with its verification)       yes    yes       yes      yes
PUT sessions/{id}/needs, POST .../remote-stop         yes    yes
GET, PUT id-tokens (the drivers' credentials)         yes    yes
GET sites, GET sites/{id}/prices                      yes    yes       yes      yes
PUT sites/{id}/policy                                 yes    yes
GET token/wallets/{ref}, its transactions, a quote    yes    yes       yes      yes
POST token/wallets/{ref}/stake, unstake, redeem, pay  yes    yes
GET token/admin/supply, settlements, config, fees     yes              yes      yes
POST token/admin/clawback, burn, pause, resume,       yes
PUT token/admin/rates, POST token/admin/fees/withdraw
====================================================  =====  ========  =======  =========

Why: the operator runs the network and acts for drivers (their app's backend stakes and pays
for them); a meter's public key is what every verified kWh, and so every EVCH minted, rests on,
so only the admin registers one. Analysts and regulators read, never write; neither sees the
drivers' id tokens (the credentials that start a charge), and no route shows a secret key.

With ``api_auth = off`` (development only) a request without a credential acts as the
operator: what was open before API keys existed is open again; anything else needs a credential
(401 without one), and a credential that is sent is checked all the same.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from central_system.access import Role
from central_system.config import ApiAuth
from central_system.errors import Forbidden, Unauthenticated
from central_system.store import api_keys as key_store

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    bearerFormat="evch_...",
    description="An API key (`evch db add-api-key NAME --role ROLE`) or the admin token.",
)
DENIED = {
    401: {"description": "no credential, or an unknown or revoked one"},
    403: {"description": "the credential's role may not do this"},
}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's name (or "admin-token", "anonymous") and its role."""

    name: str
    role: Role


ANONYMOUS = Caller("anonymous", Role.OPERATOR)  # no credential, with api_auth = off


def require(*roles: Role) -> Any:
    """The dependency of a route that the admin and `roles` may call; it gives the Caller."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def caller_with_role(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        caller = await _authenticate(request, credentials)
        if caller is ANONYMOUS and caller.role not in allowed:
            raise Unauthenticated("this needs a credential: `Authorization: Bearer <key>`")
        if caller.role not in allowed:
            raise Forbidden(
                f"the {caller.role.value} role may not do this",
                role=caller.role.value,
                allowed=sorted(role.value for role in allowed),
            )
        return caller

    return Depends(caller_with_role)


async def _authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    settings = request.app.state.sites.settings
    if credentials is None:
        if settings.api_auth is ApiAuth.OFF:
            return ANONYMOUS
        raise Unauthenticated("an API key is required: `Authorization: Bearer <key>`")
    given = credentials.credentials
    admin_token = settings.admin_token
    if admin_token and secrets.compare_digest(given.encode(), admin_token.encode()):
        return Caller("admin-token", Role.ADMIN)
    key = await request.app.state.sites.db.read(key_store.authenticate, given)
    if key is None:
        raise Unauthenticated("unknown or revoked API key")
    return Caller(key.name, key.role)


# The role groups of the matrix above.
READ = (Role.OPERATOR, Role.ANALYST, Role.REGULATOR)
Admin = require()
Operate = require(Role.OPERATOR)
Read = require(*READ)
Audit = require(Role.ANALYST, Role.REGULATOR)
