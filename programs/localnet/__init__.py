"""A local Solana cluster (LiteSVM behind the standard JSON-RPC): `evch validator`."""

from programs.localnet.server import LocalnetServer
from programs.localnet.validator import LocalValidator, RpcError, create_app

__all__ = ["LocalValidator", "LocalnetServer", "RpcError", "create_app"]
