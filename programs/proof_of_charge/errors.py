"""The Proof-of-Charge program's errors (``enum PocError`` in proof_of_charge.c).

The program returns them as custom program errors (``InstructionError::Custom(code)``, shown as
"custom program error: 0x1003"). They start at 0x1001 so that they cannot be mistaken for the
Token-2022 or System program errors that a failed CPI passes through unchanged (small codes).
"""

from __future__ import annotations

from enum import IntEnum

from solders.transaction_metadata import FailedTransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError


class PocError(IntEnum):
    """Custom error codes of the Proof-of-Charge program."""

    NOT_ADMIN = 0x1001
    WRONG_ATTESTOR = 0x1002
    DUPLICATE_SESSION = 0x1003
    PAUSED = 0x1004
    OVER_CAP = 0x1005
    ARITHMETIC_OVERFLOW = 0x1006
    INVALID_INSTRUCTION = 0x1007
    INVALID_ACCOUNT = 0x1008
    ATTESTOR_LIST_FULL = 0x1009
    STOP_BEFORE_START = 0x100A
    ALREADY_INITIALIZED = 0x100B
    ATTESTOR_ALREADY_REGISTERED = 0x100C

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    PocError.NOT_ADMIN: "the signer is not the config's admin (or did not sign)",
    PocError.WRONG_ATTESTOR: "the attestor did not sign or is not registered",
    PocError.DUPLICATE_SESSION: "this session was already recorded",
    PocError.PAUSED: "recording is paused",
    PocError.OVER_CAP: "the rewards would exceed the rewards-pool cap",
    PocError.ARITHMETIC_OVERFLOW: "an amount or counter does not fit in 64 bits",
    PocError.INVALID_INSTRUCTION: "unknown instruction, wrong data length or invalid value",
    PocError.INVALID_ACCOUNT: "wrong PDA, owner, mint, token account or program account",
    PocError.ATTESTOR_LIST_FULL: "the config already holds the most attestors it can",
    PocError.STOP_BEFORE_START: "the session stops before it starts",
    PocError.ALREADY_INITIALIZED: "the config already exists",
    PocError.ATTESTOR_ALREADY_REGISTERED: "the attestor is registered already",
}


def custom_error_code(failure: object) -> int | None:
    """The custom error code of a failed transaction, or None when it failed otherwise.

    ``failure`` is a LiteSVM ``FailedTransactionMetadata``, a solders ``TransactionError``, an
    exception or object with an ``err`` attribute holding one (e.g. programs.sbpf.deploy's
    ``TransactionFailed``), or the JSON-RPC form ``{"InstructionError": [index, {"Custom": n}]}``.
    """
    if isinstance(failure, FailedTransactionMetadata):
        failure = failure.err()
    elif not isinstance(failure, TransactionErrorInstructionError | dict) and hasattr(
        failure, "err"
    ):
        failure = failure.err
    if isinstance(failure, TransactionErrorInstructionError):
        inner = failure.err
        return inner.code if isinstance(inner, InstructionErrorCustom) else None
    if isinstance(failure, dict):
        instruction_error = failure.get("InstructionError")
        if isinstance(instruction_error, list | tuple) and len(instruction_error) == 2:
            detail = instruction_error[1]
            if isinstance(detail, dict) and isinstance(detail.get("Custom"), int):
                return detail["Custom"]
    return None


def poc_error(failure: object) -> PocError | None:
    """The Proof-of-Charge error a failed transaction ended with, or None when it is not one of
    this program's errors (a runtime error, or a Token-2022/System error passed through CPI)."""
    code = custom_error_code(failure)
    if code is None:
        return None
    try:
        return PocError(code)
    except ValueError:
        return None
