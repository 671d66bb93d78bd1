"""The emulated chargers of a scenario and which of their EVSEs are taken.

Occupancy is the twin's own view (an EV is parked there), kept apart from the chargers' OCPP
state: a bay is taken from the moment an EV claims it until the EV has left. The real chargers
of a HIL run ([[hardware]]) have bays too, without an emulated charger behind them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger
from chargers_sim.clock import Clock
from ocppj import FrameObserver
from twin.scenario import ExpandedCharger, Scenario


@dataclass(frozen=True)
class Bay:
    """One EVSE of one charger: where an EV parks and plugs in."""

    spec: ExpandedCharger
    charger: EmulatedCharger | None  # None: a real charger (spec.real), driven via the CSMS
    evse_id: int

    @property
    def charger_id(self) -> str:
        return self.spec.charger_id


class Fleet:
    def __init__(
        self,
        scenario: Scenario,
        clock: Clock,
        csms_url: str,
        frame_observer: FrameObserver,
        rng: np.random.Generator,
    ) -> None:
        self._rng = rng
        self.specs: dict[str, ExpandedCharger] = {}
        self.chargers: dict[str, EmulatedCharger] = {}
        self._bays: dict[str, list[Bay]] = {}  # per site, in file order
        self._taken: set[tuple[str, int]] = set()
        for site, spec in scenario.chargers():
            config = ChargerConfig(
                spec.charger_id,
                csms_url,
                ocpp_version=spec.protocol,
                evse_count=spec.evses,
                max_power_kw=spec.max_power_kw,
                meter_interval_s=scenario.timing.meter_interval_s,
                model=f"Emulated{spec.current}",
                currency=site.currency,
                meter_key_seed=str(scenario.scenario.seed),
            )
            charger = emulated_charger(config, clock, frame_observer=frame_observer)
            self.specs[spec.charger_id] = spec
            self.chargers[spec.charger_id] = charger
            self._bays.setdefault(site.id, []).extend(
                Bay(spec, charger, evse_id) for evse_id in range(1, spec.evses + 1)
            )
        for site, spec in scenario.hardware_chargers():
            self.specs[spec.charger_id] = spec
            self._bays.setdefault(site.id, []).extend(
                Bay(spec, None, evse_id) for evse_id in range(1, spec.evses + 1)
            )

    def __iter__(self) -> Iterator[EmulatedCharger]:
        return iter(self.chargers.values())

    def connecting(self) -> Iterator[str]:
        return (charger.id for charger in self.chargers.values() if charger.connecting)

    def claim_any(self, site_id: str) -> Bay | None:
        """A free bay at the site, picked at random (from the run's seeded generator)."""
        free = [bay for bay in self._bays.get(site_id, []) if not self._is_taken(bay)]
        if not free:
            return None
        return self._take(free[int(self._rng.integers(len(free)))])

    def claim_at(self, charger_id: str) -> Bay | None:
        """The first free bay of a given charger, None when it has none free (or is unknown)."""
        spec = self.specs.get(charger_id)
        if spec is None:
            return None
        for bay in self._bays[spec.site_id]:
            if bay.charger_id == charger_id and not self._is_taken(bay):
                return self._take(bay)
        return None

    def release(self, bay: Bay) -> None:
        self._taken.discard((bay.charger_id, bay.evse_id))

    def _is_taken(self, bay: Bay) -> bool:
        return (bay.charger_id, bay.evse_id) in self._taken

    def _take(self, bay: Bay) -> Bay:
        self._taken.add((bay.charger_id, bay.evse_id))
        return bay
