"""Putting EVCH on a fresh ledger: deploy the programs, create the mints, configure them.

What an operator does once per cluster (a local ledger at every start, devnet once):

1. build the Proof-of-Charge and staking programs (C -> SBPFv0, cached) and deploy each
   through the upgradeable loader's real instructions (the checks a cluster applies);
2. create the EVCH mint (TransferFee, DefaultAccountState=Frozen, PermanentDelegate, on-mint
   metadata) handing its mint authority to the Proof-of-Charge program's PDA, and initialise
   that program's config in the same transaction, so nobody can initialise it first;
3. register the attestor (the central system's signing key for sessions);
4. open the operator's and the staking vault's token accounts and thaw them (accounts start
   frozen until KYC), initialise staking with its tiers;
5. create the Green Credit mint (NonTransferable).

Every step is a transaction sent through the :class:`~central_system.ledger.Ledger`, so the
same code bootstraps the embedded LiteSVM, `evch validator` or a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from central_system.ledger import Ledger, TxResult
from programs import proof_of_charge, staking
from programs.proof_of_charge import Rates
from programs.sbpf import loader_v3
from programs.sbpf.build import BUILD_DIR, build_program
from programs.sbpf.deploy import deploy_steps
from programs.spl import evch_mint
from programs.spl.token2022 import (
    associated_token_address,
    create_associated_token_account_idempotent,
    thaw_account,
)
from programs.staking import Tier

LAMPORTS_PER_SOL = 1_000_000_000
DAY_S = 86_400

# Staking tiers: (staked EVCH, lock) -> fee discount. Amounts in raw units (1 EVCH = 10**6).
DEFAULT_TIERS = (
    Tier(min_amount=100 * 10**6, min_lock_s=30 * DAY_S, discount_bps=500),
    Tier(min_amount=1_000 * 10**6, min_lock_s=90 * DAY_S, discount_bps=1_000),
    Tier(min_amount=10_000 * 10**6, min_lock_s=365 * DAY_S, discount_bps=2_000),
)


class BootstrapError(RuntimeError):
    """A bootstrap transaction was refused: the ledger's error and logs say why."""


@dataclass(frozen=True)
class TokenAuthorities:
    """The keys that run EVCH. On a local ledger they are generated; on a cluster each lives
    where its holder keeps it (the attestor in the central system, the regulator elsewhere)."""

    admin: Keypair = field(default_factory=Keypair)  # pays, deploys, configures
    attestor: Keypair = field(default_factory=Keypair)  # signs Proof-of-Charge records
    kyc: Keypair = field(default_factory=Keypair)  # freeze authority: thaws after KYC
    regulator: Keypair = field(default_factory=Keypair)  # permanent delegate: clawback
    operator: Keypair = field(default_factory=Keypair)  # the charge point operator's wallet


@dataclass(frozen=True)
class TokenSettings:
    rates: Rates = field(default_factory=Rates)
    transfer_fee_bps: int = 50  # the platform fee on EVCH transfers
    maximum_fee_raw: int = 5 * 10**6  # 5 EVCH
    min_lock_s: int = DAY_S
    max_lock_s: int = 4 * 365 * DAY_S
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    metadata_uri: str = ""


@dataclass(frozen=True)
class TokenDeployment:
    """Where EVCH lives on one ledger (public keys only)."""

    proof_of_charge: Pubkey
    staking: Pubkey
    mint: Pubkey
    green_mint: Pubkey
    operator_account: Pubkey
    vault: Pubkey
    mint_config: evch_mint.EvchMintConfig

    def as_dict(self) -> dict[str, str]:
        return {
            "proof_of_charge_program": str(self.proof_of_charge),
            "staking_program": str(self.staking),
            "evch_mint": str(self.mint),
            "green_credit_mint": str(self.green_mint),
            "operator_token_account": str(self.operator_account),
            "staking_vault": str(self.vault),
        }


async def bootstrap(
    ledger: Ledger,
    authorities: TokenAuthorities,
    settings: TokenSettings = TokenSettings(),
    *,
    fund_lamports: int | None = 100 * LAMPORTS_PER_SOL,
) -> TokenDeployment:
    """Deploy and configure EVCH on ``ledger``; ``fund_lamports`` airdrops the admin first
    (local ledgers; pass None on a cluster where the admin is funded already)."""
    admin = authorities.admin
    if fund_lamports:
        await ledger.fund(admin.pubkey(), fund_lamports)
    poc_program = await _deploy(ledger, admin, proof_of_charge.PROGRAM_DIR)
    staking_program = await _deploy(ledger, admin, staking.PROGRAM_SOURCE)

    mint = Keypair()
    config = evch_mint.EvchMintConfig(
        admin=admin.pubkey(),
        freeze_authority=authorities.kyc.pubkey(),
        fee_config_authority=admin.pubkey(),
        fee_withdraw_authority=admin.pubkey(),
        permanent_delegate=authorities.regulator.pubkey(),
        transfer_fee_bps=settings.transfer_fee_bps,
        maximum_fee=settings.maximum_fee_raw,
        uri=settings.metadata_uri,
    )
    _, final_space = evch_mint.evch_mint_space(config, mint.pubkey())
    await _send(
        ledger,
        "EVCH mint and Proof-of-Charge config",
        [
            *evch_mint.create_evch_mint(
                config,
                payer=admin.pubkey(),
                mint=mint.pubkey(),
                mint_authority=proof_of_charge.mint_authority_address(poc_program),
                lamports=await ledger.rent_exempt_minimum(final_space),
            ),
            proof_of_charge.initialize(
                poc_program,
                admin=admin.pubkey(),
                payer=admin.pubkey(),
                mint=mint.pubkey(),
                rates=settings.rates,
            ),
        ],
        admin,
        [mint],
    )
    await _send(
        ledger,
        "attestor",
        [
            proof_of_charge.add_attestor(
                poc_program, admin=admin.pubkey(), attestor=authorities.attestor.pubkey()
            )
        ],
        admin,
    )

    operator_account = associated_token_address(authorities.operator.pubkey(), mint.pubkey())
    vault = staking.vault_token_account(staking_program, mint.pubkey())
    vault_owner = staking.vault_authority_address(staking_program)
    await _send(
        ledger,
        "operator and staking vault accounts",
        [
            create_associated_token_account_idempotent(
                admin.pubkey(), authorities.operator.pubkey(), mint.pubkey()
            ),
            thaw_account(operator_account, mint.pubkey(), authorities.kyc.pubkey()),
            create_associated_token_account_idempotent(admin.pubkey(), vault_owner, mint.pubkey()),
            thaw_account(vault, mint.pubkey(), authorities.kyc.pubkey()),
            staking.initialize(
                staking_program,
                admin=admin.pubkey(),
                mint=mint.pubkey(),
                min_lock_s=settings.min_lock_s,
                max_lock_s=settings.max_lock_s,
                tiers=settings.tiers,
                vault=vault,
            ),
        ],
        admin,
        [authorities.kyc],
    )

    green = Keypair()
    green_config = evch_mint.GreenCreditMintConfig(admin=admin.pubkey())
    _, green_space = evch_mint.green_credit_mint_space(green_config, green.pubkey())
    await _send(
        ledger,
        "Green Credit mint",
        evch_mint.create_green_credit_mint(
            green_config,
            payer=admin.pubkey(),
            mint=green.pubkey(),
            mint_authority=admin.pubkey(),
            lamports=await ledger.rent_exempt_minimum(green_space),
        ),
        admin,
        [green],
    )
    return TokenDeployment(
        poc_program,
        staking_program,
        mint.pubkey(),
        green.pubkey(),
        operator_account,
        vault,
        config,
    )


async def _deploy(ledger: Ledger, admin: Keypair, source) -> Pubkey:
    """Build (cached) and deploy one program through the upgradeable loader."""
    so_bytes = build_program(source, BUILD_DIR).read_bytes()
    program, buffer = Keypair(), Keypair()
    sizes = (loader_v3.BUFFER_METADATA_SIZE + len(so_bytes), loader_v3.PROGRAM_ACCOUNT_SIZE)
    rent = {size: await ledger.rent_exempt_minimum(size) for size in sizes}
    for step in deploy_steps(admin.pubkey(), program, buffer, so_bytes, rent.__getitem__):
        await _send(ledger, f"deploy {source.name}", step.instructions, admin, step.signers)
    return program.pubkey()


async def _send(ledger: Ledger, what: str, instructions, payer, signers=()) -> TxResult:
    result = await ledger.send(instructions, payer, signers)
    if not result.ok:
        logs = "\n".join(result.logs[-12:])
        raise BootstrapError(f"{what}: {result.error}\n{logs}")
    return result
