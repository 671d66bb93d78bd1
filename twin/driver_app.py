"""The drivers' phone app in a twin run: it tells the operator when the driver leaves and how
much energy they need, and pays the session in EVCH when the driver chooses to.

It talks to the central system's services as the REST API does (the same calls, without HTTP),
so runs stay fast; the API routes have their own tests.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from central_system.app import CentralSystem
from central_system.domain.model import SessionState
from central_system.domain.tokens import KycStatus, Settlement
from central_system.errors import Conflict
from twin.csms_client import CsmsApi, CsmsApiError


class DriverApp:
    def __init__(self, central: CentralSystem, seed: int, evch_payment_share: float) -> None:
        self._central = central
        self._seed, self._share = seed, evch_payment_share

    async def tell_needs(
        self, charger_id: str, transaction_id: str, departure: datetime, wh: float
    ) -> None:
        """The driver's plans, for the site's load management."""
        service = self._central.service
        session = await service.find_session(charger_id, transaction_id)
        if session is not None:
            await service.set_driver_needs(session.session_id, departure, round(wh))

    def pays_in_evch(self, owner_ref: str) -> bool:
        """Whether the driver prefers EVCH: a hash of the seed and their id, so the choice does
        not depend on the order in which drivers pay."""
        digest = hashlib.sha256(f"{self._seed}:pay:{owner_ref}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self._share

    async def pay(self, charger_id: str, transaction_id: str) -> Settlement | None:
        """Pay the finished session in EVCH if the driver prefers it, KYC allows it and the
        balance covers the quote (the fee included); otherwise the driver paid at the charger."""
        central = self._central
        if central.payments is None or central.tokens is None:
            return None
        session = await central.service.find_session(charger_id, transaction_id)
        if session is None or session.total_cost_minor is None or not session.id_token:
            return None
        owner = session.id_token
        wallet = await central.tokens.wallet(owner)
        if (
            wallet is None
            or wallet.kyc_status is not KycStatus.APPROVED
            or not self.pays_in_evch(owner)
        ):
            return None
        try:
            quote = await central.payments.quote(session.session_id)
            if (await central.tokens.balance_raw(owner) or 0) < quote.gross_raw:
                return None
            return await central.payments.pay(owner, session.session_id)
        except Conflict:  # no EVCH price, or refused (e.g. another session spent the balance)
            return None


class RestDriverApp:
    """The drivers' app against an external central system (HIL): over its REST API. It tells
    the driver's plans; EVCH payments stay with the CSMS's own token service (not paid here)."""

    def __init__(self, api: CsmsApi) -> None:
        self._api = api

    async def tell_needs(
        self, charger_id: str, transaction_id: str, departure: datetime, wh: float
    ) -> None:
        # Only an active session takes needs: the charger's active ones are a short list, where
        # all its sessions (of every run) are not.
        session = await self._api.find_session(charger_id, transaction_id, SessionState.ACTIVE)
        if session is not None:
            try:
                await self._api.set_driver_needs(session.session_id, departure, round(wh))
            except CsmsApiError as error:
                if error.status != 409:  # 409: the session ended meanwhile
                    raise

    async def pay(self, charger_id: str, transaction_id: str) -> Settlement | None:
        return None
