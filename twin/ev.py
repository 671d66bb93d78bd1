"""An EV's battery and how fast it accepts energy.

Two-stage charging: constant current (the EV's full power) up to `taper_soc`, then the power
falls linearly with the state of charge, to `taper_min_fraction` of full power at 100%.
Efficiency is the share of the energy drawn at the meter that ends up in the battery.

The twin holds power constant between decisions (see `Ev.advance`), exactly as the charger's
meter integrates it, so the battery's gain divided by the efficiency equals the metered energy.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.ev_catalogue import EvModel

# Below this a need counts as met: float sums of power * time never land exactly on it.
ENERGY_EPSILON_WH = 1e-6


@dataclass(frozen=True)
class ChargingCurve:
    taper_soc: float = 0.8
    taper_min_fraction: float = 0.1

    def fraction(self, soc: float) -> float:
        """Share of full power the battery accepts at state of charge `soc`."""
        if soc >= 1.0:
            return 0.0
        if soc < self.taper_soc or self.taper_soc >= 1.0:
            return 1.0
        linear = (1.0 - soc) / (1.0 - self.taper_soc)
        return max(self.taper_min_fraction, linear)


class Ev:
    """One EV on one visit: its battery, and the energy it still wants at the meter."""

    def __init__(
        self,
        model: EvModel,
        *,
        arrival_soc: float,
        need_wh: float,
        efficiency: float,
        curve: ChargingCurve,
    ) -> None:
        if not 0.0 <= arrival_soc <= 1.0:
            raise ValueError(f"arrival_soc must be within [0, 1], got {arrival_soc}")
        if not 0.0 < efficiency <= 1.0:
            raise ValueError(f"efficiency must be within (0, 1], got {efficiency}")
        self.model = model
        self.capacity_wh = model.battery_kwh * 1000.0
        self.stored_wh = arrival_soc * self.capacity_wh
        self.need_wh = need_wh
        self.efficiency = efficiency
        self.curve = curve
        self.metered_wh = 0.0  # drawn at the charger, before losses
        self.gained_wh = 0.0  # what the battery gained

    @property
    def soc(self) -> float:
        return min(1.0, self.stored_wh / self.capacity_wh)

    @property
    def satisfied(self) -> bool:
        """The driver's need is met or the battery is full: the EV draws nothing more."""
        return (
            self.metered_wh >= self.need_wh - ENERGY_EPSILON_WH
            or self.stored_wh >= self.capacity_wh - ENERGY_EPSILON_WH
        )

    def max_power_w(self, current: str) -> float:
        """The EV's own limit (AC onboard charger or DC inlet) at its present state of charge."""
        rated_kw = self.model.max_dc_kw if current == "DC" else self.model.max_ac_kw
        return rated_kw * 1000.0 * self.curve.fraction(self.soc)

    def draw_w(self, offered_w: float, current: str) -> float:
        """What the EV draws when the charger offers `offered_w`."""
        if self.satisfied:
            return 0.0
        return max(0.0, min(offered_w, self.max_power_w(current)))

    def seconds_to_satisfied(self, power_w: float) -> float:
        """How long `power_w` may flow before the need is met or the battery is full."""
        if power_w <= 0:
            return float("inf")
        to_need_wh = self.need_wh - self.metered_wh
        to_full_wh = (self.capacity_wh - self.stored_wh) / self.efficiency
        return max(0.0, min(to_need_wh, to_full_wh)) * 3600.0 / power_w

    def advance(self, power_w: float, seconds: float) -> None:
        """`power_w` flowed for `seconds`: book it at the meter and in the battery."""
        metered_wh = power_w * seconds / 3600.0
        self.metered_wh += metered_wh
        self.gained_wh += metered_wh * self.efficiency
        self.stored_wh += metered_wh * self.efficiency
