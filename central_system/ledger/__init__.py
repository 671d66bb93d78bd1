"""The ledger gateway: one interface over LiteSVM (embedded) and Solana JSON-RPC."""

from central_system.ledger.base import (
    PACKET_DATA_SIZE,
    Ledger,
    LedgerUnavailable,
    TransactionTooLarge,
    TxResult,
    token_amount,
)
from central_system.ledger.embedded import EmbeddedLedger
from central_system.ledger.rpc import RpcLedger

__all__ = [
    "PACKET_DATA_SIZE",
    "EmbeddedLedger",
    "Ledger",
    "LedgerUnavailable",
    "RpcLedger",
    "TransactionTooLarge",
    "TxResult",
    "token_amount",
]
