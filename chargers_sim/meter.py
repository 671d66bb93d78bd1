"""The energy register of an EVSE: integrates the power an attached load draws over clock time."""

from __future__ import annotations

from datetime import datetime

from chargers_sim.clock import Clock


class EnergyMeter:
    def __init__(self, clock: Clock, initial_wh: float = 0.0) -> None:
        self._clock = clock
        self._energy_wh = initial_wh
        self._power_w = 0.0
        self._since: datetime = clock.now()

    @property
    def power_w(self) -> float:
        return self._power_w

    def set_power(self, power_w: float) -> None:
        """Change the draw from now on; energy so far is booked at the old power."""
        if power_w < 0:
            raise ValueError(f"power_w must be >= 0, got {power_w}")
        self._accumulate()
        self._power_w = power_w

    def energy_wh(self) -> float:
        self._accumulate()
        return self._energy_wh

    def register_wh(self) -> int:
        """The register as a meter displays it: whole Wh."""
        return round(self.energy_wh())

    def _accumulate(self) -> None:
        now = self._clock.now()
        elapsed_s = (now - self._since).total_seconds()
        if elapsed_s > 0:
            self._energy_wh += self._power_w * elapsed_s / 3600.0
        self._since = now
