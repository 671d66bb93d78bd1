"""The admin's hand on EVCH: the mint's configuration, pausing Proof-of-Charge, its rates,
burning from a holder, and the withheld transfer fees.

Every change is a real transaction on the ledger (a few, for the fees), recorded as a token
transaction row like the holders' operations: ``admin_burn`` (owner_ref: the holder),
``pause``, ``update_rates`` and ``fees_withdrawn`` (owner_ref: ``"admin"``), with the reason and
the values before and after in its detail. A refused transaction is recorded as failed, with
the program's error in words; the caller gets the row either way.

Who signs what is set at bootstrap: the admin keypair is the Proof-of-Charge config's admin and
the fee withdraw authority; the regulator is the mint's permanent delegate (burns from any
account); the KYC key is the freeze authority (thaws the treasury, and a frozen account around a
burn).

The treasury is the platform's own EVCH account: the admin's associated token account, opened
(and thawed) the first time fees are withdrawn to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from solders.pubkey import Pubkey

from central_system.domain.tokens import TokenTransaction, TokenTxKind
from central_system.errors import NotFound
from central_system.ledger import TxResult, token_amount
from central_system.store import tokens as token_repo
from central_system.tokens.service import TokenService
from programs import proof_of_charge as poc
from programs.proof_of_charge import PocError, Rates
from programs.spl import evch_mint
from programs.spl.token2022 import (
    associated_token_address,
    create_associated_token_account_idempotent,
    harvest_withheld_tokens_to_mint,
    parse_token_account,
    thaw_account,
    withdraw_withheld_tokens_from_mint,
)

ADMIN_REF = "admin"  # owner_ref of the admin's own operations
# Token accounts harvested per transaction: each adds 33 bytes, well inside the 1,232 a
# transaction may take (a cluster refuses more).
HARVEST_BATCH = 20


class TokenAdmin:
    """The admin operations on the EVCH that a token service runs (same database, ledger, keys)."""

    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens
        self._db = tokens.database
        self.ledger = tokens.ledger
        self.deployment = tokens.deployment
        self._keys = tokens.authorities

    @property
    def treasury_account(self) -> Pubkey:
        """The platform's own EVCH account (the admin's associated token account)."""
        return associated_token_address(self._keys.admin.pubkey(), self.deployment.mint)

    # -- reading -----------------------------------------------------------------------------
    async def mint_config(self) -> dict:
        """The mint (supply, authorities, transfer fee, metadata) and the Proof-of-Charge
        config (admin, attestors, rates, paused, counters), as read on chain now."""
        mint = await self._tokens.mint_state()
        config = await self._tokens.program_config()
        fees, metadata = mint.transfer_fee_config, mint.token_metadata
        return {
            "mint": str(self.deployment.mint),
            "decimals": mint.decimals,
            "supply_raw": mint.supply,
            "mint_authority": _text(mint.mint_authority),
            "freeze_authority": _text(mint.freeze_authority),
            "permanent_delegate": _text(mint.permanent_delegate),
            "default_account_state": _state_name(mint.default_account_state),
            "transfer_fee": {
                "basis_points": fees.newer.basis_points,
                "maximum_fee_raw": fees.newer.maximum_fee,
                "from_epoch": fees.newer.epoch,
                "previous_basis_points": fees.older.basis_points,
                "previous_maximum_fee_raw": fees.older.maximum_fee,
                "config_authority": _text(fees.config_authority),
                "withdraw_authority": _text(fees.withdraw_authority),
                "withheld_in_mint_raw": fees.withheld_amount,
            },
            "metadata": {
                "name": metadata.name,
                "symbol": metadata.symbol,
                "uri": metadata.uri,
                "update_authority": _text(metadata.update_authority),
                "additional": dict(metadata.additional),
            },
            "proof_of_charge": {
                "program": str(self.deployment.proof_of_charge),
                "config_account": str(poc.config_address(self.deployment.proof_of_charge)),
                "admin": str(config.admin),
                "attestors": [str(a) for a in config.attestors],
                "paused": config.paused,
                "rates": dataclasses.asdict(config.rates),
                "verified_wh": config.verified_wh,
                "minted_to_drivers_raw": config.minted_driver_raw,
                "minted_to_operators_raw": config.minted_operator_raw,
                "rewards_minted_raw": config.rewards_minted_raw,
                "rewards_left_raw": config.rewards_left_raw,
                "sessions_recorded": config.sessions_recorded,
            },
            "treasury_account": str(self.treasury_account),
        }

    async def withheld_fees(self) -> dict:
        """Transfer fees not yet withdrawn: harvested to the mint, and still withheld on the
        token accounts the platform knows (a fee is withheld on the recipient's account)."""
        mint = await self._tokens.mint_state()
        accounts = []
        for label, address in await self._known_accounts():
            data = await self.ledger.account_data(address)
            withheld = 0 if data is None else parse_token_account(data).withheld_amount or 0
            if withheld:
                accounts.append(
                    {"owner_ref": label, "token_account": str(address), "withheld_raw": withheld}
                )
        in_mint = mint.transfer_fee_config.withheld_amount
        in_accounts = sum(a["withheld_raw"] for a in accounts)
        return {
            "withheld_in_mint_raw": in_mint,
            "withheld_in_accounts_raw": in_accounts,
            "withheld_total_raw": in_mint + in_accounts,
            "accounts": accounts,
            "treasury_account": str(self.treasury_account),
            "treasury_balance_raw": await token_amount(self.ledger, self.treasury_account) or 0,
        }

    async def rates(self) -> Rates:
        """The Proof-of-Charge rates on chain now."""
        return (await self._tokens.program_config()).rates

    # -- Proof-of-Charge ---------------------------------------------------------------------
    async def set_paused(self, paused: bool, reason: str) -> TokenTransaction:
        """Pause (or resume) Proof-of-Charge: while paused the program refuses every
        RecordCharge with Paused."""
        before = await self._tokens.program_config()
        admin = self._keys.admin
        instruction = poc.set_paused(
            self.deployment.proof_of_charge, admin=admin.pubkey(), paused=paused
        )
        result = await self.ledger.send([instruction], admin)
        if result.ok and not paused:
            await self._tokens.resume_paused()  # sessions refused while paused go out again
        after = await self._tokens.program_config()
        detail = {
            "reason": reason,
            "paused": paused,
            "before": {"paused": before.paused},
            "after": {"paused": after.paused},
        }
        return await self._tokens.record(TokenTxKind.PAUSE, result, ADMIN_REF, detail=detail)

    async def update_rates(self, rates: Rates, reason: str = "") -> TokenTransaction:
        """New mint rate, shares, multipliers and rewards cap, for sessions recorded from now
        on. The program refuses a cap below the rewards already minted (OverCap)."""
        before = await self._tokens.program_config()
        admin = self._keys.admin
        instruction = poc.update_rates(
            self.deployment.proof_of_charge, admin=admin.pubkey(), rates=rates
        )
        result = await self.ledger.send([instruction], admin)
        after = await self._tokens.program_config()
        error = None
        if result.custom_error == PocError.OVER_CAP:
            error = (
                f"OVER_CAP: the rewards cap {rates.rewards_cap_raw} raw is below the rewards "
                f"already minted, {before.rewards_minted_raw} raw"
            )
        detail = {
            "reason": reason,
            "requested": dataclasses.asdict(rates),
            "before": dataclasses.asdict(before.rates),
            "after": dataclasses.asdict(after.rates),
        }
        return await self._tokens.record(
            TokenTxKind.UPDATE_RATES, result, ADMIN_REF, detail=detail, error=error
        )

    # -- burning -----------------------------------------------------------------------------
    async def burn(self, owner_ref: str, amount_raw: int, reason: str) -> TokenTransaction:
        """Burn ``amount_raw`` from a holder's account by the permanent delegate, without the
        holder; a frozen account is thawed around the burn and stays frozen."""
        wallet = await self._db.read(token_repo.get_wallet, owner_ref)
        if wallet is None:
            raise NotFound(f"{owner_ref!r} has no wallet", owner_ref=owner_ref)
        source = Pubkey.from_string(wallet.token_account)
        held = parse_token_account(await self.ledger.account_data(source))
        supply_before = (await self._tokens.mint_state()).supply
        instructions = evch_mint.burn_from(
            self.deployment.mint_config,
            self.deployment.mint,
            source=source,
            amount=amount_raw,
            source_frozen=held.is_frozen,
        )
        signers = [self._keys.regulator, *([self._keys.kyc] if held.is_frozen else [])]
        result = await self.ledger.send(instructions, self._keys.admin, signers)
        detail = {
            "reason": reason,
            "frozen": held.is_frozen,
            "balance_before_raw": held.amount,
            "balance_after_raw": await token_amount(self.ledger, source),
            "supply_before_raw": supply_before,
            "supply_after_raw": (await self._tokens.mint_state()).supply,
        }
        return await self._tokens.record(
            TokenTxKind.ADMIN_BURN, result, owner_ref, amount_raw=amount_raw, detail=detail
        )

    # -- fees --------------------------------------------------------------------------------
    async def withdraw_fees(self, reason: str) -> TokenTransaction:
        """Harvest the fees withheld on the known accounts to the mint, then withdraw all the
        mint holds to the treasury (opened and thawed the first time). The row's amount is
        what reached the treasury."""
        before = await self.withheld_fees()
        detail: dict = {"reason": reason, "before": _fee_summary(before)}
        opened = await self._open_treasury()
        if opened is not None:
            detail["treasury_opened"] = opened.signature
            if not opened.ok:
                return await self._tokens.record(
                    TokenTxKind.FEES_WITHDRAWN, opened, ADMIN_REF, detail=detail
                )
        sources = [Pubkey.from_string(a["token_account"]) for a in before["accounts"]]
        detail["harvests"] = []
        for batch in _batches(sources, HARVEST_BATCH):
            harvest = harvest_withheld_tokens_to_mint(self.deployment.mint, batch)
            harvested = await self.ledger.send([harvest], self._keys.admin)
            if not harvested.ok:
                return await self._tokens.record(
                    TokenTxKind.FEES_WITHDRAWN, harvested, ADMIN_REF, detail=detail
                )
            detail["harvests"].append(harvested.signature)
        treasury_before = await token_amount(self.ledger, self.treasury_account) or 0
        admin = self._keys.admin
        withdraw = withdraw_withheld_tokens_from_mint(
            self.deployment.mint, self.treasury_account, admin.pubkey()
        )
        result = await self.ledger.send([withdraw], admin)
        treasury_after = await token_amount(self.ledger, self.treasury_account) or 0
        detail["after"] = _fee_summary(await self.withheld_fees())
        return await self._tokens.record(
            TokenTxKind.FEES_WITHDRAWN,
            result,
            ADMIN_REF,
            amount_raw=treasury_after - treasury_before,
            detail=detail,
        )

    async def _open_treasury(self) -> TxResult | None:
        """Create the treasury account and thaw it (new accounts start frozen); None when it
        is open and thawed already."""
        treasury, mint, kyc = self.treasury_account, self.deployment.mint, self._keys.kyc
        admin = self._keys.admin
        data = await self.ledger.account_data(treasury)
        if data is not None and not parse_token_account(data).is_frozen:
            return None
        instructions = [thaw_account(treasury, mint, kyc.pubkey())]
        if data is None:
            create = create_associated_token_account_idempotent(
                admin.pubkey(), admin.pubkey(), mint
            )
            instructions.insert(0, create)
        return await self.ledger.send(instructions, admin, [kyc])

    async def _known_accounts(self) -> list[tuple[str, Pubkey]]:
        """Every EVCH account the platform knows, once each: the holders' wallets, the
        operator's account, the staking vault and the treasury."""
        wallets = await self._db.read(token_repo.list_wallets)
        candidates = [
            *((w.owner_ref, Pubkey.from_string(w.token_account)) for w in wallets),
            ("operator", self.deployment.operator_account),
            ("staking_vault", self.deployment.vault),
            ("treasury", self.treasury_account),
        ]
        seen: set[Pubkey] = set()
        accounts = []
        for label, address in candidates:
            if address not in seen:
                seen.add(address)
                accounts.append((label, address))
        return accounts


def _text(key: Pubkey | None) -> str | None:
    return None if key is None else str(key)


def _state_name(state) -> str | None:
    return None if state is None else state.name.lower()


def _fee_summary(fees: dict) -> dict:
    return {
        "withheld_in_mint_raw": fees["withheld_in_mint_raw"],
        "withheld_in_accounts_raw": fees["withheld_in_accounts_raw"],
        "treasury_balance_raw": fees["treasury_balance_raw"],
    }


def _batches(items: Sequence[Pubkey], size: int) -> list[Sequence[Pubkey]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
