"""EVCH on a local JSON-RPC ledger: what `evch validator` starts with and what the tests'
`local_validator` fixture hands out, whichever node serves the RPC."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from central_system.ledger import RpcLedger
from central_system.tokens.bootstrap import (
    TokenAuthorities,
    TokenDeployment,
    TokenSettings,
    bootstrap,
)
from programs.localnet import LocalnetServer


@dataclass(frozen=True)
class LocalEvch:
    """A JSON-RPC ledger with EVCH deployed on it, and the keys that run EVCH there."""

    url: str
    kind: str  # what serves it: "evch validator" or "solana-test-validator"
    ledger: RpcLedger
    deployment: TokenDeployment
    authorities: TokenAuthorities


@asynccontextmanager
async def evch_deployed(
    url: str, kind: str, settings: TokenSettings | None = None
) -> AsyncIterator[LocalEvch]:
    """Deploy the programs and create the mints on the fresh ledger at ``url`` (new keys),
    configured by ``settings`` (default: TokenSettings()); the RpcLedger is closed on exit, the
    deployment stays on the ledger."""
    ledger = RpcLedger(url)
    try:
        authorities = TokenAuthorities()
        deployment = await bootstrap(ledger, authorities, settings or TokenSettings())
        yield LocalEvch(url, kind, ledger, deployment, authorities)
    finally:
        await ledger.close()


@asynccontextmanager
async def evch_validator(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[LocalEvch]:
    """`evch validator` in this process (port 0: a free one), EVCH deployed on it."""
    async with LocalnetServer(host=host, port=port) as server:
        async with evch_deployed(server.url, "evch validator") as local:
            yield local


def write_keys(path: Path, local: LocalEvch) -> None:
    """The addresses and every authority's secret key (64-byte arrays, as `solana-keygen`
    writes them) as JSON that only the owner may read. Local development only: whoever holds
    these keys controls the mint."""
    document = {
        "rpc_url": local.url,
        "deployment": local.deployment.as_dict(),
        "authorities": {
            f.name: {
                "pubkey": str(getattr(local.authorities, f.name).pubkey()),
                "secret_key": list(bytes(getattr(local.authorities, f.name))),
            }
            for f in fields(local.authorities)
        },
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there before, with another mode
    with os.fdopen(fd, "w") as out:
        json.dump(document, out, indent=2)
