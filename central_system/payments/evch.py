"""Paying a session in EVCH: the driver's tokens go to the operator with the platform's fee
withheld, and the operator is settled in fiat or a stablecoin at the peg.

A session is paid at most once:

- its payment row (``token_transactions``, one per session and kind) is claimed before the
  transfer is sent, so a second request finds it pending or confirmed and is refused;
- the transfer's transaction also creates the session's payment *receipt* (a system account
  at an address derived from the session id), so the ledger itself refuses a second payment.
  When the answer to a payment is lost (the ledger went away), the row is left failed and a
  retry first looks for the receipt: found, the payment is settled without a second transfer.

A refused transfer (a frozen account, too little EVCH) leaves the row failed, and the driver
may try again.
"""

from __future__ import annotations

import logging
from functools import partial

from solders.pubkey import Pubkey
from solders.system_program import CreateAccountWithSeedParams, create_account_with_seed

from central_system.clock import Clock
from central_system.domain.model import ChargingSession, Site
from central_system.domain.tokens import Settlement, TokenTxStatus, Wallet
from central_system.errors import Conflict, Forbidden, NotFound, Unavailable
from central_system.ledger import LedgerUnavailable, TxResult
from central_system.payments.peg import (
    EvchPeg,
    EvchQuote,
    PegBasis,
    evch_value_minor,
    quote,
    settlement,
)
from central_system.pricing import FxTable, Money
from central_system.store import repository as repo
from central_system.store import tokens as token_repo
from central_system.store.database import Database
from central_system.tokens.service import TokenService, explain_refusal
from programs.spl.evch_mint import EVCH_DECIMALS
from programs.spl.token2022 import SYSTEM_PROGRAM_ID, transfer_checked_with_fee


def _receipt_seed(session_id: int) -> str:
    return f"evch-pay-{session_id}"  # at most 32 characters, as seeds must be


log = logging.getLogger(__name__)


class PaymentRefused(Conflict):
    """The ledger refused the transfer; the reason says why (e.g. a frozen account)."""

    code = "payment_refused"


class EvchPayments:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: TokenService,
        peg: EvchPeg | None = None,
        operator_ref: str = "operator",
    ) -> None:
        self._db = db
        self._clock = clock
        self._tokens = tokens
        self.peg = peg or EvchPeg()
        self.operator_ref = operator_ref

    async def quote(self, session_id: int) -> EvchQuote:
        """The session's bill in EVCH, at the peg as it stood when the session ended (so the
        quote does not drift while the driver decides)."""
        priced, _ = await self._quote(await self._billed(session_id))
        return priced

    async def _quote(self, session: ChargingSession) -> tuple[EvchQuote, FxTable | None]:
        site = await self._site_of(session)
        fx = site.fx.table() if site.fx is not None else None
        prices = []
        if self.peg.basis is PegBasis.KWH:
            end = session.stopped_at
            prices = await self._db.read(
                repo.published_prices, site.site_id, end - self.peg.window, end
            )
        value = evch_value_minor(self.peg, session.currency, prices, fx)
        fees = self._tokens.deployment.mint_config
        bill = Money(session.total_cost_minor, session.currency)
        return quote(bill, value, fees.transfer_fee_bps, fees.maximum_fee), fx

    async def pay(self, owner_ref: str, session_id: int) -> Settlement:
        """The driver ``owner_ref`` pays session ``session_id`` from their custodial wallet."""
        session = await self._billed(session_id)
        if session.id_token != owner_ref:
            raise Forbidden(f"session {session_id} is not {owner_ref}'s", session_id=session_id)
        wallet = await self._tokens.wallet(owner_ref)
        if wallet is None:
            raise NotFound(f"{owner_ref!r} has no wallet", owner_ref=owner_ref)
        if not wallet.custodial:
            raise Conflict(f"{owner_ref!r} pays from their own wallet app", owner_ref=owner_ref)
        priced, fx = await self._quote(session)
        settled = settlement(priced, self.peg.settle_in, fx)  # before any token moves
        row = await self._db.write(
            token_repo.claim_payment, session_id, owner_ref, priced.gross_raw, self._clock.now()
        )
        if row is None:
            raise Conflict(f"session {session_id} is paid or being paid", session_id=session_id)

        attempts = row.attempts + 1
        try:
            result = await self._send(session_id, wallet, priced)
        except LedgerUnavailable as error:
            log.warning("payment of session %s: ledger unavailable", session_id)
            await self._failed(
                row.tx_id, attempts, "ledger unavailable; its receipt tells on retry"
            )
            raise Unavailable("the ledger cannot be reached; try again") from error
        except PaymentRefused as refused:
            await self._failed(row.tx_id, attempts, refused.message, refused.details["signature"])
            raise
        except BaseException:
            await self._failed(row.tx_id, attempts, "interrupted; its receipt tells on retry")
            raise

        paid = Settlement(
            session_id=session_id,
            tx_id=row.tx_id,
            operator_ref=self.operator_ref,
            bill_minor=priced.bill.amount_minor,
            bill_currency=priced.bill.currency,
            peg_basis=self.peg.basis.value,
            evch_value_minor=priced.value_minor_per_evch,
            gross_raw=priced.gross_raw,
            fee_raw=priced.fee_raw,
            net_raw=priced.net_raw,
            settled_in=self.peg.settle_in.value,
            settled_minor=settled.amount_minor,
            settled_currency=settled.currency,
            settled_at=self._clock.now(),
        )
        confirm = partial(
            token_repo.record_settlement,
            status=TokenTxStatus.CONFIRMED,
            attempts=attempts,
            error=None,
            # None when an earlier try landed and only its receipt was found
            signature=result and result.signature,
            compute_units=result and result.compute_units,
            slot=result and result.slot,
            detail={"fee_raw": priced.fee_raw, "net_raw": priced.net_raw, "bill": str(priced.bill)},
        )
        return await self._db.write(confirm, paid)

    def receipt_address(self, session_id: int) -> Pubkey:
        """The session's payment receipt: a system account created in the payment's own
        transaction, so a second payment of the session fails on chain (account in use)."""
        return Pubkey.create_with_seed(
            self._tokens.fee_payer.pubkey(), _receipt_seed(session_id), SYSTEM_PROGRAM_ID
        )

    async def _send(self, session_id: int, wallet: Wallet, priced: EvchQuote) -> TxResult | None:
        """The transfer with its receipt; None when the receipt shows an earlier try landed."""
        ledger, payer = self._tokens.ledger, self._tokens.fee_payer
        receipt = self.receipt_address(session_id)
        if await ledger.account_data(receipt) is not None:
            return None
        _, owner = await self._tokens.custodial(wallet.owner_ref)
        deployment = self._tokens.deployment
        create_receipt = create_account_with_seed(
            CreateAccountWithSeedParams(
                from_pubkey=payer.pubkey(),
                to_pubkey=receipt,
                base=payer.pubkey(),
                seed=_receipt_seed(session_id),
                lamports=await ledger.rent_exempt_minimum(0),
                space=0,
                owner=SYSTEM_PROGRAM_ID,
            )
        )
        transfer = transfer_checked_with_fee(
            Pubkey.from_string(wallet.token_account),
            deployment.mint,
            deployment.operator_account,
            owner.pubkey(),
            priced.gross_raw,
            EVCH_DECIMALS,
            priced.fee_raw,
        )
        result = await ledger.send([create_receipt, transfer], payer, [owner])
        if result.ok:
            return result
        if await ledger.account_data(receipt) is not None:
            return None  # a concurrent try landed first
        reason = explain_refusal(result)
        raise PaymentRefused(
            f"payment of session {session_id} refused: {reason}", signature=result.signature
        )

    async def settlement(self, session_id: int) -> Settlement | None:
        return await self._db.read(token_repo.get_settlement, session_id)

    async def settlements(self) -> list[Settlement]:
        return await self._db.read(token_repo.list_settlements)

    async def _billed(self, session_id: int) -> ChargingSession:
        session = await self._db.read(repo.get_session, session_id, False)
        if session is None:
            raise NotFound(f"no session {session_id}", session_id=session_id)
        if session.total_cost_minor is None or session.currency is None:
            raise Conflict(f"session {session_id} has no bill (yet)", session_id=session_id)
        return session

    async def _site_of(self, session: ChargingSession) -> Site:
        site = await self._db.read(repo.site_of_charger, session.charger_id)
        if site is None:
            raise Conflict(f"charger {session.charger_id} belongs to no priced site")
        return site

    async def _failed(
        self, tx_id: int, attempts: int, reason: str, signature: str | None = None
    ) -> None:
        await self._tokens.update(
            tx_id, status=TokenTxStatus.FAILED, attempts=attempts, error=reason, signature=signature
        )
