"""The charger gateway: the version-agnostic way to command a connected charger."""

from __future__ import annotations

from typing import Protocol

from central_system.domain.model import OcppVersion
from central_system.errors import ChargerOffline
from central_system.pricing import Money, PriceInterval


class ChargerLink(Protocol):
    """The commands the central system can send, whatever protocol the charger speaks.

    Each returns the status the charger answered (e.g. "Accepted", "Rejected", "Unlocked").
    """

    id: str
    version: OcppVersion

    async def remote_start(self, id_token: str, evse_id: int, remote_start_id: int) -> str: ...
    async def remote_stop(self, transaction_ref: str) -> str: ...
    async def change_availability(self, evse_id: int, operative: bool) -> str: ...
    async def reset(self, hard: bool) -> str: ...
    async def get_settings(self, keys: list[str]) -> dict[str, str | None]: ...
    async def set_setting(self, key: str, value: str) -> str: ...
    async def trigger_message(self, message: str, evse_id: int | None = None) -> str: ...
    async def unlock_connector(self, evse_id: int, connector_id: int = 1) -> str: ...
    async def set_power_limit(
        self, evse_id: int, transaction_ref: str, limit_w: float, profile_id: int
    ) -> str:
        """Limit a transaction's power from now on (a TxProfile, in W)."""
        ...

    async def clear_charging_profile(self, profile_id: int) -> str: ...
    async def get_composite_schedule(self, evse_id: int, duration_s: int) -> dict | None: ...

    # What the driver sees on the charger (2.0.1 TariffCost/DisplayMessage, 1.6 DataTransfer
    # as in the OCA's "OCPP & California Pricing Requirements" whitepaper).
    async def show_tariff(
        self, transaction_ref: str, id_token: str | None, price: PriceInterval
    ) -> str: ...
    async def show_running_cost(
        self, transaction_ref: str, cost: Money, energy_wh: int, price: PriceInterval
    ) -> str: ...
    async def show_final_cost(
        self, transaction_ref: str, cost: Money, energy_wh: int | None
    ) -> str: ...

    async def close(self) -> None: ...


class ChargerGateway:
    """Which charger is connected through which link; the latest connection wins."""

    def __init__(self) -> None:
        self._links: dict[str, ChargerLink] = {}

    def attach(self, link: ChargerLink) -> ChargerLink | None:
        previous = self._links.get(link.id)
        self._links[link.id] = link
        return previous

    def detach(self, link: ChargerLink) -> None:
        if self._links.get(link.id) is link:
            del self._links[link.id]

    def link(self, charger_id: str) -> ChargerLink:
        try:
            return self._links[charger_id]
        except KeyError:
            raise ChargerOffline(
                f"charger {charger_id!r} is not connected", charger_id=charger_id
            ) from None

    def is_online(self, charger_id: str) -> bool:
        return charger_id in self._links

    def online(self) -> set[str]:
        return set(self._links)
