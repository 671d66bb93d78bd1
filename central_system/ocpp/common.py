"""Helpers both protocol adapters use: times on the wire and CSMS-initiated calls."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError

from central_system.clock import Clock
from central_system.errors import CommandFailed
from central_system.pricing import Money, PriceInterval
from central_system.sessions.service import ChargingService
from ocppj import ConnectionLost, RpcEndpoint

# The site planner's transaction limits sit above any TxDefaultProfile an operator installs.
TX_PROFILE_STACK_LEVEL = 1


def wire_amount(money: Money) -> float:
    """An amount as the JSON number OCPP carries (major units, e.g. 12.35).

    A float, because the `ocpp` library writes Decimals with one decimal place. Python writes a
    float as the shortest text that reads back as it, so the frame shows the exact decimal as
    long as it has at most 15 significant digits; larger amounts are refused, not rounded.
    """
    major = money.major
    number = float(major)
    if Decimal(repr(number)) != major:
        raise ValueError(f"{money} cannot be written exactly as a JSON number")
    return number


def price_text(price: PriceInterval) -> str:
    """What a driver reads on the charger's screen about the price now."""
    return f"{Money(price.price_minor_per_kwh, price.currency)}/kWh"


def cost_text(cost: Money, energy_wh: int | None, *, final: bool) -> str:
    energy = "" if energy_wh is None else f" for {Decimal(energy_wh) / 1000:.3f} kWh"
    return f"{'Total' if final else 'So far'}: {cost}{energy}"


async def send_command(endpoint, payload):
    """Send a CSMS-initiated CALL; a CALLERROR or silence becomes CommandFailed."""
    action = type(payload).__name__
    try:
        return await endpoint.request(payload)
    except OCPPError as error:
        raise CommandFailed(
            f"{endpoint.id} answered {action} with {error.code}",
            charger_id=endpoint.id,
            action=action,
            error_code=error.code,
        ) from error
    except UnknownCallErrorCodeError as error:  # a vendor's own error code
        raise CommandFailed(
            f"{endpoint.id} answered {action} with an unknown error code",
            charger_id=endpoint.id,
            action=action,
        ) from error
    except (TimeoutError, ConnectionLost) as error:
        raise CommandFailed(
            f"{endpoint.id} did not answer {action}", charger_id=endpoint.id, action=action
        ) from error


class CentralSystemEndpoint(RpcEndpoint):
    """What both version adapters share: the charging service, the clock and the settings.

    Mixed in before the `ocpp` ChargePoint class of the version.
    """

    def __init__(
        self,
        charger_id: str,
        connection: Any,
        service: ChargingService,
        clock: Clock,
        *,
        heartbeat_interval_s: int = 300,
        lenient: bool = True,
        response_timeout_s: float = 30,
    ) -> None:
        super().__init__(charger_id, connection, response_timeout_s)
        self.use_counter_ids()
        self.lenient = lenient
        self._service = service
        self._clock = clock
        self._heartbeat_interval_s = heartbeat_interval_s
