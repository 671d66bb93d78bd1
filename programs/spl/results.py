"""Reading a LiteSVM transaction result: compute units, logs, the failing instruction's error.

``LiteSVM.send_transaction`` (and ``simulate_transaction``) return a ``TransactionMetadata`` on
success and a ``FailedTransactionMetadata`` (``.err()`` and ``.meta()``) on failure; a failed
transaction still consumed compute units, which :func:`compute_units` reports too.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.transaction_metadata import (
    FailedTransactionMetadata,
    SimulatedTransactionInfo,
    TransactionMetadata,
)
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

LiteSvmResult = TransactionMetadata | FailedTransactionMetadata | SimulatedTransactionInfo


def _metadata(result: LiteSvmResult) -> TransactionMetadata:
    if isinstance(result, FailedTransactionMetadata):
        return result.meta()
    if isinstance(result, SimulatedTransactionInfo):
        return result.meta
    return result


def succeeded(result: LiteSvmResult) -> bool:
    return not isinstance(result, FailedTransactionMetadata)


def compute_units(result: LiteSvmResult) -> int:
    """Compute units the transaction consumed (all its instructions, failed or not)."""
    return _metadata(result).compute_units_consumed()


def logs(result: LiteSvmResult) -> list[str]:
    return list(_metadata(result).logs())


@dataclass(frozen=True)
class InstructionFailure:
    """Which instruction failed and how: ``custom`` is the program's own code (e.g. a
    ``TokenError``), ``error`` the runtime's words for any other failure."""

    index: int
    custom: int | None
    error: str


def failure(result: LiteSvmResult) -> InstructionFailure | str | None:
    """None on success; an :class:`InstructionFailure` when an instruction failed; otherwise the
    transaction-level error as text (e.g. ``InsufficientFundsForRent``)."""
    if not isinstance(result, FailedTransactionMetadata):
        return None
    error = result.err()
    if isinstance(error, TransactionErrorInstructionError):
        inner = error.err
        custom = inner.code if isinstance(inner, InstructionErrorCustom) else None
        return InstructionFailure(error.index, custom, str(inner))
    return str(error)
