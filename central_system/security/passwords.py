"""Charger Basic Auth passwords: the rules OCPP sets on them, and their salted scrypt hashes.

OCPP 2.0.1 (part 2, A00.FR.205 and the passwordString datatype) wants 16 to 40 characters from
a-z, A-Z, 0-9 and ``*-_=:+|@.``; the 1.6 security whitepaper's AuthorizationKey, written as its
hex digits, fits the same rule. Only a hash is stored: scrypt with a random salt per password,
its cost parameters kept in the stored string so that they can be raised later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets

MIN_LENGTH = 16
MAX_LENGTH = 40
PASSWORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-_=:+|@."
_PASSWORD = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]*$")

SCHEME = "scrypt"
SCRYPT_N = 2**14  # about 50 ms and 16 MiB per check: passwords are random, not remembered
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 256 * 2**20


class PasswordRuleError(ValueError):
    """The password breaks OCPP's rules (length or characters)."""


def check_password_rules(password: str) -> None:
    """Raise PasswordRuleError unless ``password`` is a valid OCPP Basic Auth password."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordRuleError(
            f"a charger password has {MIN_LENGTH} to {MAX_LENGTH} characters, not {len(password)}"
        )
    if not _PASSWORD.match(password):
        raise PasswordRuleError("a charger password uses only a-z, A-Z, 0-9 and *-_=:+|@.")


def generate_password(length: int = MAX_LENGTH) -> str:
    """A random password that meets the rules."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise PasswordRuleError(f"length must be {MIN_LENGTH} to {MAX_LENGTH}")
    return "".join(secrets.choice(PASSWORD_CHARS) for _ in range(length))


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_MAXMEM)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$key`` (base64 salt and key) for a password that meets the rules."""
    check_password_rules(password)
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password.encode(), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(stored: str, password: bytes) -> bool:
    """Does ``password`` (as sent, bytes) match the stored hash? Constant time in the key."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(
            password, base64.b64decode(salt, validate=True), int(n), int(r), int(p), len(expected)
        )
    except ValueError:  # a malformed stored hash never matches
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when a charger has no password, so that the answer takes as long either way.
UNSET_HASH = (
    f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(bytes(SALT_BYTES))}${_b64(bytes(KEY_BYTES))}"
)
