"""Real chargers on a HIL rig, driven through the central system.

The twin cannot plug a car into a real charger. For an arrival that gets a real charger's bay
it asks the CSMS for a remote start with the rig's test card, follows the session the charger
opens, reads the power the charger measures (its MeterValues, as the CSMS stored them) into the
site's power, and asks for a remote stop when the EV leaves. Only the CSMS's REST API is used:
a rig's central system runs elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from central_system.domain.model import (
    ChargingSession,
    Measurand,
    SessionState,
    latest_power,
)
from twin.csms_client import CsmsApi, CsmsApiError


class HardwareRefused(Exception):
    """A real charger's session did not start; `reason` is the refusal code of the visit."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Measured:
    session: ChargingSession
    power_w: float  # what the charger last measured; 0 once the session is over


def measured_power_w(session: ChargingSession) -> float:
    """The session's latest measured power: its Power.Active.Import, or else the rate of its
    energy register between its last two readings (charger timestamps)."""
    if session.state is not SessionState.ACTIVE:
        return 0.0
    power = latest_power(session.readings)
    if power is not None and power.value is not None:
        return max(0.0, float(power.value))
    energy = sorted(
        (r for r in session.readings if r.measurand == Measurand.ENERGY_IMPORT_REGISTER),
        key=lambda r: r.timestamp,
    )
    if len(energy) < 2:
        return 0.0
    first, last = energy[-2], energy[-1]
    elapsed_s = (last.timestamp - first.timestamp).total_seconds()
    if elapsed_s <= 0 or first.value is None or last.value is None:
        return 0.0
    return max(0.0, (last.value - first.value) * 3600.0 / elapsed_s)


class CsmsHardware:
    """The real chargers' sessions, through the CSMS's REST API.

    Waits (for a session to open or close) are in wall-clock time: they are the hardware's.
    """

    def __init__(
        self,
        api: CsmsApi,
        id_tokens: Mapping[str, str],  # charger id -> the test card it is started with
        *,
        poll_s: float = 0.2,
        timeout_s: float = 60.0,
    ) -> None:
        self._api = api
        self._id_tokens = dict(id_tokens)
        self._poll_s = poll_s
        self._timeout_s = timeout_s

    def id_token(self, charger_id: str) -> str:
        return self._id_tokens[charger_id]

    async def start(self, charger_id: str, evse_id: int) -> ChargingSession:
        """Remote start; the session the charger opened on the EVSE in answer."""
        before = {s.session_id for s in await self._api.sessions(charger_id, SessionState.ACTIVE)}
        try:
            status = await self._api.remote_start(charger_id, self.id_token(charger_id), evse_id)
        except CsmsApiError as error:
            reason = {409: "remote_start_conflict", 503: "charger_offline"}.get(
                error.status or 0, "remote_start_failed"
            )
            raise HardwareRefused(reason, str(error)) from None
        if status != "Accepted":
            raise HardwareRefused("remote_start_rejected", f"the charger answered {status}")
        try:
            async with asyncio.timeout(self._timeout_s):
                while True:
                    for session in await self._api.sessions(charger_id, SessionState.ACTIVE):
                        if session.evse_id == evse_id and session.session_id not in before:
                            return session
                    await asyncio.sleep(self._poll_s)
        except TimeoutError:
            message = f"no session within {self._timeout_s:g} s of the accepted remote start"
            raise HardwareRefused("start_timeout", message) from None

    async def measure(self, session_id: int) -> Measured:
        session = await self._api.session(session_id)
        return Measured(session, measured_power_w(session))

    async def stop(self, session_id: int) -> ChargingSession:
        """Remote stop; the session once the charger has ended it."""
        try:
            await self._api.remote_stop(session_id)
        except CsmsApiError as error:
            if error.status != 409:  # 409: it is no longer active (the charger ended it)
                raise
        async with asyncio.timeout(self._timeout_s):
            while True:
                session = await self._api.session(session_id)
                if session.state is not SessionState.ACTIVE:
                    return session
                await asyncio.sleep(self._poll_s)
        raise AssertionError("unreachable")  # pragma: no cover
