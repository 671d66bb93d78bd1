"""`evch serve --tokens`: EVCH bootstrapped with new keys on the chosen ledger (the embedded
LiteSVM in this process, or a JSON-RPC node such as `evch validator`) and the token service
attached to the central system, as the twin does, so that the REST token routes answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from central_system.app import CentralSystem
from central_system.clock import Clock
from central_system.ledger import EmbeddedLedger, Ledger, RpcLedger
from central_system.payments import EvchPeg
from central_system.tokens.bootstrap import TokenDeployment, TokenSettings
from central_system.tokens.service import KycDecision


@dataclass(frozen=True)
class ServeTokens:
    ledger_url: str | None = None  # None: the embedded LiteSVM
    settings: TokenSettings = field(default_factory=TokenSettings)
    peg: EvchPeg | None = None  # None: the token service's default peg


class NoKycProvider:
    """`evch serve` has no identity provider to ask: every check is refused, so holders'
    accounts stay frozen and nothing is minted to a driver nobody has verified."""

    async def check(self, owner_ref: str) -> KycDecision:
        return KycDecision(False, "no KYC provider is configured on this central system")


def open_ledger(ledger_url: str | None, clock: Clock) -> Ledger:
    # The embedded ledger reads the central system's clock, so staking lockups follow it.
    return RpcLedger(ledger_url) if ledger_url else EmbeddedLedger(clock=clock)


async def attach_token_service(
    central: CentralSystem, ledger: Ledger, options: ServeTokens
) -> TokenDeployment:
    """Deploy EVCH on ``ledger`` (new keys, kept in memory only) and attach its token service
    to the started ``central``; stopping the central system stops the service."""
    tokens = await central.deploy_tokens(ledger, options.settings, NoKycProvider(), options.peg)
    return tokens.deployment
