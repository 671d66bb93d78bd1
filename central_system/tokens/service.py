"""The token service: drivers' wallets and KYC, and a Proof-of-Charge for every verified session,
minted exactly once.

Exactly once, across restarts and ledger outages:

- a stopped session gets one outbox row (``token_transactions``, unique per session), committed
  before anything goes to the ledger; a restart finds the rows still pending;
- the worker sends each pending row's RecordCharge until the ledger gives an answer; while the
  ledger cannot be reached it waits and tries again (nothing is lost, nothing is skipped);
- the program itself refuses a second record of a session (its session PDA): if an earlier try
  landed but its answer was lost, the retry is refused with DuplicateSession, and the worker
  reads the session account on chain and confirms the row from what was really minted.

A driver whose token account is frozen (no KYC yet) cannot receive: the row waits as
``blocked`` and goes out again once KYC thaws the account.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer

from central_system.background import BackgroundTasks
from central_system.clock import Clock
from central_system.domain.model import (
    ChargingSession,
    MeterSample,
    SessionState,
    Verification,
)
from central_system.domain.tokens import (
    KycStatus,
    TokenTransaction,
    TokenTxKind,
    TokenTxStatus,
    Wallet,
)
from central_system.ledger import Ledger, LedgerUnavailable, TxResult, token_amount
from central_system.store import repository as repo
from central_system.store import tokens as token_repo
from central_system.store.database import Database
from central_system.tokens.bootstrap import TokenAuthorities, TokenDeployment
from central_system.tokens.rewards import NO_REWARDS, SessionRewards
from programs import proof_of_charge as poc
from programs import staking
from programs.proof_of_charge import ChargeRecord, PocError, RewardClass
from programs.spl import evch_mint
from programs.spl.evch_mint import EVCH_DECIMALS, GREEN_CREDIT_DECIMALS
from programs.spl.token2022 import (
    Mint,
    TokenError,
    associated_token_address,
    burn_checked,
    create_associated_token_account_idempotent,
    freeze_account,
    mint_to_checked,
    parse_mint,
    thaw_account,
)

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30.0  # how long the worker waits for an unreachable ledger
# Why a Proof-of-Charge waits as blocked (and what unblocks it).
FROZEN = "the driver's account is frozen"  # KYC approval
PAUSED = "Proof-of-Charge is paused"  # the admin resuming it
NO_WALLET = "the driver has no wallet"  # the driver's KYC approval, once a wallet is open


@dataclass(frozen=True)
class KycDecision:
    approved: bool
    reason: str = ""


class KycProvider(Protocol):
    """Identity verification (a provider's API in production; simulated in the twin)."""

    async def check(self, owner_ref: str) -> KycDecision: ...


class RewardSource(Protocol):
    """A stopped session's reward class and Green Credits (tokens/rewards.py)."""

    async def rewards(self, session: ChargingSession) -> SessionRewards: ...


class TokenService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ledger: Ledger,
        deployment: TokenDeployment,
        authorities: TokenAuthorities,
        kyc: KycProvider,
        *,
        retry_after_s: float = RETRY_AFTER_S,
    ) -> None:
        self._db = db
        self._clock = clock
        self.ledger = ledger
        self.deployment = deployment
        self._keys = authorities
        self._kyc = kyc
        self.retry_after_s = retry_after_s
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._background = BackgroundTasks()
        self.rewards: RewardSource | None = None  # off-peak and renewable classes

    # -- wallets and KYC ---------------------------------------------------------------------
    async def open_wallet(self, owner_ref: str, external: Pubkey | None = None) -> Wallet:
        """The holder's wallet: a new custodial keypair, or an external public key (e.g. a
        Phantom wallet); its EVCH account is created (frozen until KYC)."""
        existing = await self._db.read(token_repo.get_wallet, owner_ref)
        if existing is not None:
            return existing
        keypair = None if external is not None else Keypair()
        owner = external if external is not None else keypair.pubkey()
        account = associated_token_address(owner, self.deployment.mint)
        admin = self._keys.admin
        result = await self.ledger.send(
            [
                create_associated_token_account_idempotent(
                    admin.pubkey(), owner, self.deployment.mint
                )
            ],
            admin,
        )
        if not result.ok:
            raise RuntimeError(f"token account for {owner_ref} not created: {result.error}")
        return await self._db.write(
            token_repo.insert_wallet,
            owner_ref,
            str(owner),
            str(account),
            None if keypair is None else bytes(keypair),
            self._clock.now(),
        )

    async def verify(self, owner_ref: str) -> Wallet:
        """Ask the KYC provider; approval thaws the holder's account, refusal keeps it frozen."""
        decision = await self._kyc.check(owner_ref)
        status = KycStatus.APPROVED if decision.approved else KycStatus.REFUSED
        return await self._set_kyc(owner_ref, status, decision.reason)

    async def revoke(self, owner_ref: str, reason: str = "") -> Wallet:
        """KYC withdrawn: the account is frozen again (it can neither receive nor pay)."""
        return await self._set_kyc(owner_ref, KycStatus.REVOKED, reason)

    async def _set_kyc(self, owner_ref: str, status: KycStatus, reason: str) -> Wallet:
        wallet = await self._db.read(token_repo.get_wallet, owner_ref)
        account, mint, kyc = (
            Pubkey.from_string(wallet.token_account),
            self.deployment.mint,
            self._keys.kyc,
        )
        thaw = status is KycStatus.APPROVED
        if thaw != (wallet.kyc_status is KycStatus.APPROVED):  # the account changes state
            ix = (
                thaw_account(account, mint, kyc.pubkey())
                if thaw
                else freeze_account(account, mint, kyc.pubkey())
            )
            result = await self.ledger.send([ix], self._keys.admin, [kyc])
            await self.record(
                TokenTxKind.KYC_THAW if thaw else TokenTxKind.KYC_FREEZE,
                result,
                owner_ref,
                detail={"reason": reason} if reason else None,
            )
            if not result.ok:
                raise RuntimeError(f"KYC change for {owner_ref} not applied: {result.error}")
        wallet = await self._db.write(token_repo.set_kyc, owner_ref, status, self._clock.now())
        if thaw:
            await self._unblock(lambda row: row.owner_ref == owner_ref and row.error != PAUSED)
        return wallet

    # -- staking -----------------------------------------------------------------------------
    async def stake(self, owner_ref: str, amount_raw: int, lock_s: int) -> TokenTransaction:
        """Lock ``amount_raw`` EVCH of a custodial wallet in the staking vault for ``lock_s``
        seconds (a new position; the operator pays the fees and the position's rent)."""
        wallet, owner = await self.custodial(owner_ref)
        staked = [r for r in await self.transactions(owner_ref) if r.kind is TokenTxKind.STAKE]
        nonce = len(staked)
        program, admin = self.deployment.staking, self._keys.admin
        rent = await self.ledger.rent_exempt_minimum(staking.POSITION_LEN)
        instructions = [
            transfer(
                TransferParams(from_pubkey=admin.pubkey(), to_pubkey=owner.pubkey(), lamports=rent)
            ),
            staking.stake(
                program,
                owner=owner.pubkey(),
                source=Pubkey.from_string(wallet.token_account),
                mint=self.deployment.mint,
                amount=amount_raw,
                lock_s=lock_s,
                nonce=nonce,
                vault=self.deployment.vault,
            ),
        ]
        result = await self.ledger.send(instructions, admin, [owner])
        position = staking.position_address(program, owner.pubkey(), nonce)
        return await self.record(
            TokenTxKind.STAKE,
            result,
            owner_ref,
            amount_raw=amount_raw,
            detail={"nonce": nonce, "position": str(position), "lock_s": lock_s},
        )

    async def unstake(self, owner_ref: str, nonce: int) -> TokenTransaction:
        """Return a position's EVCH once its lock has ended (the program refuses earlier)."""
        wallet, owner = await self.custodial(owner_ref)
        instruction = staking.unstake(
            self.deployment.staking,
            owner=owner.pubkey(),
            position=staking.position_address(self.deployment.staking, owner.pubkey(), nonce),
            destination=Pubkey.from_string(wallet.token_account),
            mint=self.deployment.mint,
            vault=self.deployment.vault,
        )
        result = await self.ledger.send([instruction], self._keys.admin, [owner])
        return await self.record(TokenTxKind.UNSTAKE, result, owner_ref, detail={"nonce": nonce})

    async def fee_discount_bps(self, owner_ref: str) -> int:
        """The discount the holder's staking positions earn now (0 without a wallet)."""
        positions = []
        for row in await self.transactions(owner_ref):
            if row.kind is TokenTxKind.STAKE and row.status is TokenTxStatus.CONFIRMED:
                address = Pubkey.from_string(row.detail["position"])
                data = await self.ledger.account_data(address)
                if data:  # an unstaked position is closed
                    positions.append(staking.parse_position(data, address))
        return staking.fee_discount_bps(positions, self._clock.now())

    # -- the marketplace ---------------------------------------------------------------------
    async def redeem(self, owner_ref: str, amount_raw: int, service: str) -> TokenTransaction:
        """Burn ``amount_raw`` of a custodial wallet's EVCH for a marketplace ``service``
        (a frozen account, without KYC, cannot: Token-2022 refuses)."""
        wallet, owner = await self.custodial(owner_ref)
        burn = burn_checked(
            Pubkey.from_string(wallet.token_account),
            self.deployment.mint,
            owner.pubkey(),
            amount_raw,
            EVCH_DECIMALS,
        )
        result = await self.ledger.send([burn], self._keys.admin, [owner])
        detail = {"service": service}
        return await self.record(
            TokenTxKind.REDEEM, result, owner_ref, amount_raw=amount_raw, detail=detail
        )

    # -- regulation --------------------------------------------------------------------------
    async def clawback(self, owner_ref: str, amount_raw: int, reason: str) -> TokenTransaction:
        """The regulator (the mint's permanent delegate) moves ``amount_raw`` from the holder's
        account to the operator's, frozen account or not; the reason is kept with it."""
        wallet = await self._db.read(token_repo.get_wallet, owner_ref)
        if wallet is None:
            raise ValueError(f"{owner_ref} has no wallet")
        frozen = wallet.kyc_status is not KycStatus.APPROVED
        instructions = evch_mint.clawback(
            self.deployment.mint_config,
            self.deployment.mint,
            source=Pubkey.from_string(wallet.token_account),
            destination=self.deployment.operator_account,
            amount=amount_raw,
            source_frozen=frozen,
        )
        signers = [self._keys.regulator, *([self._keys.kyc] if frozen else [])]
        result = await self.ledger.send(instructions, self._keys.admin, signers)
        return await self.record(
            TokenTxKind.CLAWBACK,
            result,
            owner_ref,
            amount_raw=amount_raw,
            detail={"reason": reason},
        )

    @property
    def database(self) -> Database:
        return self._db

    @property
    def authorities(self) -> TokenAuthorities:
        """The platform's keys (for the admin's operations; never shown)."""
        return self._keys

    @property
    def fee_payer(self) -> Keypair:
        """The platform's key that pays the ledger fees of holders' transactions."""
        return self._keys.admin

    async def custodial(self, owner_ref: str) -> tuple[Wallet, Keypair]:
        """A custodial wallet and its key, to sign the holder's transactions (never shown)."""
        wallet = await self._db.read(token_repo.get_wallet, owner_ref)
        secret = await self._db.read(token_repo.wallet_secret, owner_ref)
        if wallet is None or secret is None:
            raise ValueError(f"{owner_ref} has no custodial wallet")
        return wallet, Keypair.from_bytes(secret)

    async def balance_raw(self, owner_ref: str) -> int | None:
        """The holder's EVCH in raw units (1 raw = 1 mWh), None without a wallet."""
        wallet = await self.wallet(owner_ref)
        if wallet is None:
            return None
        return await token_amount(self.ledger, Pubkey.from_string(wallet.token_account)) or 0

    async def supply(self) -> dict[str, int]:
        """The mint's supply and what the Proof-of-Charge program has recorded, raw units."""
        mint, config = await self.mint_state(), await self.program_config()
        return {
            "supply_raw": mint.supply,
            "withheld_fees_raw": mint.transfer_fee_config.withheld_amount,
            "verified_wh": config.verified_wh,
            "minted_to_drivers_raw": config.minted_driver_raw,
            "minted_to_operators_raw": config.minted_operator_raw,
            "rewards_minted_raw": config.rewards_minted_raw,
            "sessions_recorded": config.sessions_recorded,
        }

    async def wallet(self, owner_ref: str) -> Wallet | None:
        return await self._db.read(token_repo.get_wallet, owner_ref)

    async def transactions(
        self, owner_ref: str | None = None, session_id: int | None = None
    ) -> list[TokenTransaction]:
        return await self._db.read(token_repo.list_transactions, owner_ref, session_id)

    # -- what the charging service tells us --------------------------------------------------
    def session_started(self, session: ChargingSession, *, resumed: bool = False) -> None:
        """Tokens are minted when a session ends."""

    def session_metered(self, session_id: int, samples: Sequence[MeterSample]) -> None:
        """Tokens are minted from the stored readings, not the live ones."""

    def driver_needs(self, session: ChargingSession) -> None:
        """Tokens do not depend on the driver's plans."""

    def sessions_changed(self, charger_id: str) -> None:
        """Nothing to tell the charger."""

    def session_stopped(self, session: ChargingSession) -> None:
        # Only energy the meter's signatures prove is minted; an unverified session keeps its
        # reason on the session row and mints nothing.
        if (
            session.state is SessionState.COMPLETED
            and session.verification is Verification.VERIFIED
            and (session.verified_energy_wh or 0) > 0
        ):
            self._background.spawn(self._enqueue(session))

    async def _enqueue(self, session: ChargingSession) -> None:
        await self._db.write(
            partial(
                token_repo.enqueue,
                session_id=session.session_id,
                owner_ref=session.id_token,
            ),
            TokenTxKind.PROOF_OF_CHARGE,
            self._clock.now(),
        )
        self._kick()

    # -- the worker --------------------------------------------------------------------------
    def start(self) -> None:
        self._background.start_timer(self._work(), name="proof-of-charge")
        self._kick()  # rows left pending by an earlier run

    async def stop(self) -> None:
        await self._background.cancel()

    async def drained(self) -> None:
        """Return once no Proof-of-Charge is pending, sessions that have stopped but are not in
        the outbox yet included (blocked ones wait for KYC or a resume and do not count)."""
        while True:
            await self._background.settled()
            self._kick()
            self._idle.clear()
            await self._idle.wait()
            pending = await self._db.read(
                token_repo.transactions_in, (TokenTxStatus.PENDING,), TokenTxKind.PROOF_OF_CHARGE
            )
            if not pending:
                return

    def _kick(self) -> None:
        self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending = await self._db.read(
                token_repo.transactions_in, (TokenTxStatus.PENDING,), TokenTxKind.PROOF_OF_CHARGE
            )
            try:
                for row in pending:
                    await self._submit(row)
            except LedgerUnavailable as error:
                log.warning("ledger unavailable, retrying in %.0f s: %s", self.retry_after_s, error)
                await self._clock.sleep(self.retry_after_s)
                self._kick()
                continue
            self._idle.set()

    async def _submit(self, row: TokenTransaction) -> None:
        session = await self._db.read(repo.get_session, row.session_id)
        wallet = await self._db.read(token_repo.get_wallet, row.owner_ref or "")
        if wallet is None:
            await self.update(row.tx_id, status=TokenTxStatus.BLOCKED, error=NO_WALLET)
            return
        rewards = await self.rewards.rewards(session) if self.rewards else NO_REWARDS
        record = charge_record(session, rewards.reward_class)
        attestor = self._keys.attestor
        instructions = [
            poc.record_charge(
                self.deployment.proof_of_charge,
                attestor=attestor.pubkey(),
                payer=attestor.pubkey(),
                mint=self.deployment.mint,
                driver_token=Pubkey.from_string(wallet.token_account),
                operator_token=self.deployment.operator_account,
                record=record,
            )
        ]
        signers = []
        if rewards.green_credit_raw:
            # In the same transaction: the session PDA that refuses a second record refuses a
            # second certificate too.
            instructions += self._green_credits(wallet, rewards.green_credit_raw)
            signers.append(self._keys.admin)
        result = await self.ledger.send(instructions, attestor, signers)
        changes: dict[str, object] = {
            "attempts": row.attempts + 1,
            "signature": result.signature,
            "compute_units": result.compute_units,
            "slot": result.slot,
        }
        if result.ok or result.custom_error == PocError.DUPLICATE_SESSION:
            # Recorded now, or by an earlier try whose answer was lost: the chain says what.
            minted = await self._recorded(record.session_id)
            minted["detail"]["green_credit_raw"] = rewards.green_credit_raw
            changes.update(status=TokenTxStatus.CONFIRMED, error=None, **minted)
            if not result.ok:
                changes["signature"] = row.signature  # the landed try's, if we ever learnt it
        elif result.custom_error == TokenError.ACCOUNT_FROZEN:
            changes.update(status=TokenTxStatus.BLOCKED, error=FROZEN)
        elif result.custom_error == PocError.PAUSED:
            changes.update(status=TokenTxStatus.BLOCKED, error=PAUSED)
        else:
            changes.update(status=TokenTxStatus.FAILED, error=explain_refusal(result))
        await self.update(row.tx_id, **changes)

    async def _recorded(self, session_hash: bytes) -> dict[str, object]:
        address = poc.session_address(self.deployment.proof_of_charge, session_hash)
        data = await self.ledger.account_data(address)
        state = poc.SessionState.parse(data)
        amounts = state.amounts
        return {
            "amount_raw": amounts.driver_total_raw + amounts.operator_raw,
            "detail": {
                "energy_wh": state.energy_wh,
                "driver_raw": amounts.driver_raw,
                "operator_raw": amounts.operator_raw,
                "reward_raw": amounts.reward_raw,
                "reward_class": int(state.reward_class),
                "session_account": str(address),
            },
        }

    def _green_credits(self, wallet: Wallet, amount_raw: int) -> list[Instruction]:
        """Green Credits to the driver's (NonTransferable) account, opened if need be."""
        owner, green = Pubkey.from_string(wallet.pubkey), self.deployment.green_mint
        admin, payer = self._keys.admin.pubkey(), self._keys.attestor.pubkey()
        return [
            create_associated_token_account_idempotent(payer, owner, green),
            mint_to_checked(
                green,
                associated_token_address(owner, green),
                admin,
                amount_raw,
                GREEN_CREDIT_DECIMALS,
            ),
        ]

    async def resume_paused(self) -> None:
        """Proof-of-Charge resumed: the sessions it refused while paused go out again."""
        await self._unblock(lambda row: row.error == PAUSED)

    async def _unblock(self, which: Callable[[TokenTransaction], bool]) -> None:
        blocked = await self._db.read(
            token_repo.transactions_in, (TokenTxStatus.BLOCKED,), TokenTxKind.PROOF_OF_CHARGE
        )
        for row in blocked:
            if which(row):
                await self.update(row.tx_id, status=TokenTxStatus.PENDING)
        self._kick()

    async def record(
        self,
        kind: TokenTxKind,
        result: TxResult,
        owner_ref: str,
        *,
        amount_raw: int | None = None,
        detail: dict | None = None,
        error: str | None = None,
    ) -> TokenTransaction:
        """One row for an operation made at once: confirmed, or failed with why (``error``
        where the program's error alone would not say it)."""
        outcome = TokenTxStatus.CONFIRMED if result.ok else TokenTxStatus.FAILED
        record = partial(
            token_repo.record_transaction,
            owner_ref=owner_ref,
            amount_raw=amount_raw,
            signature=result.signature,
            compute_units=result.compute_units,
            slot=result.slot,
            error=None if result.ok else error or explain_refusal(result),
            detail=detail,
        )
        return await self._db.write(record, kind, outcome, self._clock.now())

    async def update(self, tx_id: int, **changes: object) -> TokenTransaction:
        """Change a token transaction row (status, signature, error...)."""
        update = partial(token_repo.update_transaction, **changes)
        return await self._db.write(update, tx_id, self._clock.now())

    async def program_config(self) -> poc.ConfigState:
        """The Proof-of-Charge config as it is on chain now."""
        address = poc.config_address(self.deployment.proof_of_charge)
        return poc.ConfigState.parse(await self.ledger.account_data(address))

    async def mint_state(self) -> Mint:
        """The EVCH mint as it is on chain now."""
        return parse_mint(await self.ledger.account_data(self.deployment.mint))


def charge_record(
    session: ChargingSession, reward_class: RewardClass = RewardClass.NONE
) -> ChargeRecord:
    """What the attestor signs for a session: its ids, verified energy, times and a digest of
    its meter readings (the signed ones among them)."""
    readings = "\n".join(
        f"{s.timestamp.isoformat()}|{s.measurand}|{s.value}|{s.signed_data or ''}"
        for s in session.readings
    )
    digest = hashlib.sha256(readings.encode()).digest()
    return ChargeRecord.for_session(
        session.session_id,
        session.charger_id,
        session.verified_energy_wh or 0,
        session.started_at,
        session.stopped_at or session.started_at,
        digest,
        reward_class,
    )


def explain_refusal(result: TxResult) -> str:
    """A refused transaction in words: the program's own error where it gave one."""
    code = result.custom_error
    for errors in (PocError, staking.StakingError):
        if code in errors._value2member_map_:
            error = errors(code)
            return f"{error.name}: {error.message}"
    if code in TokenError._value2member_map_:
        return f"Token-2022 {TokenError(code).name}"
    return result.error or "refused"
