"""Emulated OCPP charge points (1.6J and 2.0.1): real OCPP clients over real WebSockets.

They meet the central system only over OCPP, exactly as hardware does, and never import it.
"""

from chargers_sim.base import ChargerConfig, EmulatedCharger
from chargers_sim.clock import Clock, SystemClock
from chargers_sim.v16 import EmulatedChargerV16
from chargers_sim.v201 import EmulatedChargerV201

EMULATORS = {"1.6": EmulatedChargerV16, "2.0.1": EmulatedChargerV201}


def emulated_charger(
    config: ChargerConfig, clock: Clock | None = None, **kwargs
) -> EmulatedCharger:
    """An emulated charger of the protocol version its config names."""
    return EMULATORS[config.ocpp_version](config, clock or SystemClock(), **kwargs)


__all__ = [
    "EMULATORS",
    "ChargerConfig",
    "Clock",
    "EmulatedCharger",
    "EmulatedChargerV16",
    "EmulatedChargerV201",
    "SystemClock",
    "emulated_charger",
]
