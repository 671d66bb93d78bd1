"""Paying a session in EVCH: the driver's tokens go to the operator with the platform's fee
withheld, and the operator is settled in fiat or a stablecoin at the peg.

A session is paid at most once: its payment row (``token_transactions``, one per session and
kind) is claimed before the transfer is sent, so a second request finds it pending or
confirmed and is refused. A refused transfer (a frozen account, too little EVCH) leaves the row
failed, and the driver may try again.
"""

from __future__ import annotations

from functools import partial

from solders.pubkey import Pubkey

from central_system.clock import Clock
from central_system.domain.model import ChargingSession, Site
from central_system.domain.tokens import Settlement, TokenTxStatus
from central_system.errors import Conflict, Forbidden, NotFound, Unavailable
from central_system.ledger import LedgerUnavailable
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
from programs.spl.token2022 import transfer_checked_with_fee


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

        _, owner = await self._tokens.custodial(owner_ref)
        deployment = self._tokens.deployment
        transfer = transfer_checked_with_fee(
            Pubkey.from_string(wallet.token_account),
            deployment.mint,
            deployment.operator_account,
            owner.pubkey(),
            priced.gross_raw,
            EVCH_DECIMALS,
            priced.fee_raw,
        )
        attempts = row.attempts + 1
        try:
            result = await self._tokens.ledger.send([transfer], self._tokens.fee_payer, [owner])
        except LedgerUnavailable as error:
            await self._failed(row.tx_id, attempts, f"ledger unavailable: {error}")
            raise Unavailable("the ledger cannot be reached; try again") from error
        if not result.ok:
            reason = explain_refusal(result)
            await self._failed(row.tx_id, attempts, reason, result.signature)
            raise PaymentRefused(f"payment of session {session_id} refused: {reason}")

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
            signature=result.signature,
            compute_units=result.compute_units,
            slot=result.slot,
            detail={"fee_raw": priced.fee_raw, "net_raw": priced.net_raw, "bill": str(priced.bill)},
        )
        return await self._db.write(confirm, paid)

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
        for site in await self._db.read(repo.list_sites):
            if session.charger_id in site.evse_power_w:
                return site
        raise Conflict(f"charger {session.charger_id} belongs to no priced site")

    async def _failed(
        self, tx_id: int, attempts: int, reason: str, signature: str | None = None
    ) -> None:
        failed = partial(
            token_repo.update_transaction,
            status=TokenTxStatus.FAILED,
            attempts=attempts,
            error=reason,
            signature=signature,
        )
        await self._db.write(failed, tx_id, self._clock.now())
