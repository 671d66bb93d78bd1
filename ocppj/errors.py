"""CALLERROR codes as each OCPP-J version spells them.

OCPP-J 1.6 keeps the historic spellings `FormationViolation` and `OccurenceConstraintViolation`;
2.0.1 fixed them and added `MessageTypeNotSupported` and `RpcFrameworkError`. The `ocpp` library
uses the 2.0.1 spellings everywhere, so outgoing errors are translated per connection.
"""

from __future__ import annotations

from jsonschema.exceptions import ValidationError as SchemaError
from ocpp.exceptions import (
    FormatViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)

V16_SPELLING = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    # Codes 1.6 does not have, mapped to their nearest 1.6 meaning.
    "MessageTypeNotSupported": "NotSupported",
    "RpcFrameworkError": "ProtocolError",
}
V201_SPELLING = {
    "FormationViolation": "FormatViolation",
    "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
}


def spell(code: str, ocpp_version: str) -> str:
    table = V16_SPELLING if ocpp_version == "1.6" else V201_SPELLING
    return table.get(code, code)


def violation_for(error: SchemaError) -> OCPPError:
    """The CALLERROR a schema violation deserves (OCPP-J 1.6 §4.2.3, 2.0.1 Part 4 §4.3)."""
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    details = {"cause": f"{where}: {error.message}"}
    if error.validator == "required":
        return OccurrenceConstraintViolationError(details=details)
    if error.validator == "type":
        return TypeConstraintViolationError(details=details)
    if error.validator in ("enum", "maxLength", "minLength", "minimum", "maximum", "pattern"):
        return PropertyConstraintViolationError(details=details)
    if error.validator in ("minItems", "maxItems"):
        return OccurrenceConstraintViolationError(details=details)
    return FormatViolationError(details=details)  # additionalProperties and the rest


__all__ = ["spell", "violation_for"]
