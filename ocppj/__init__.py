"""OCPP-J framing rules shared by both peers: the central system and the emulated chargers.

Like the `ocpp` library it builds on, this package knows the wire protocol only, so the two
peers can share it without knowing each other: spec-named CALLERRORs per protocol version,
tolerance of harmless extra fields from real hardware, deterministic message ids and a frame tap.
"""

from ocppj.endpoint import (
    ConnectionLost,
    FrameObserver,
    MessageTap,
    RpcEndpoint,
    TappedConnection,
)

__all__ = ["ConnectionLost", "FrameObserver", "MessageTap", "RpcEndpoint", "TappedConnection"]
