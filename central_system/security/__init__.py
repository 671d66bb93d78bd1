"""OCPP security profiles: charger passwords (stored hashed) and the TLS contexts of the endpoint.

Profile 0 is plain OCPP-J without authentication (the default), 1 adds HTTP Basic Auth per
charger, 2 runs Basic Auth inside TLS with a server certificate, 3 replaces the password by a
client certificate whose subject CN is the charger's id.
"""

from central_system.security.credentials import ChargerCredentials
from central_system.security.passwords import (
    PasswordRuleError,
    check_password_rules,
    generate_password,
    hash_password,
    verify_password,
)
from central_system.security.tls import SecurityConfigError, peer_common_names, server_ssl_context

__all__ = [
    "ChargerCredentials",
    "PasswordRuleError",
    "SecurityConfigError",
    "check_password_rules",
    "generate_password",
    "hash_password",
    "peer_common_names",
    "server_ssl_context",
    "verify_password",
]
