"""Rooftop PV: clear-sky AC power from pvlib (Ineichen sky, PVWatts DC and inverter).

    >>> from datetime import UTC, datetime
    >>> array = PvArray(35.70, 51.40, kwp=100.0, tilt=30.0, azimuth=180.0)   # Tehran
    >>> array.at(datetime(2024, 6, 21, 0, 0, tzinfo=UTC)) == 0.0             # 03:30 local
    True
    >>> 60_000 < array.at(datetime(2024, 6, 21, 8, 45, tzinfo=UTC)) < 100_000  # solar noon
    True

Deterministic and offline: the sky is Ineichen-Perez clear sky with pvlib's bundled monthly
Linke turbidity climatology (no weather download), so this is the most the array gives on a
cloudless day, not a forecast. The chain, each step a pvlib function (units in the names):

1. solar position and clear-sky GHI/DNI/DHI (W/m2) at the site (``Location.get_clearsky``);
2. plane-of-array irradiance, isotropic sky (``irradiance.get_total_irradiance``);
3. cell temperature from a fixed air temperature and wind (``temperature.sapm_cell``, open
   rack glass/polymer);
4. PVWatts DC power (``pvsystem.pvwatts_dc``) less the PVWatts default system losses (14 %);
5. PVWatts inverter (``inverter.pvwatts``) sized at ``kwp / dc_ac_ratio`` AC.

So the AC power never exceeds ``kwp / dc_ac_ratio`` (<= ``kwp``). Power is instantaneous at
each sample time; integrate a fine series (e.g. 300 s) for energy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pvlib

from twin.signals.timeline import sample_times

_SAPM = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]


def clear_sky_poa_w_m2(
    times: pd.DatetimeIndex,
    latitude: float,
    longitude: float,
    altitude_m: float,
    tilt: float,
    azimuth: float,
    albedo: float,
) -> pd.Series:
    """Plane-of-array irradiance (W/m2) under an Ineichen clear sky; 0 at night."""
    location = pvlib.location.Location(latitude, longitude, tz="UTC", altitude=altitude_m)
    with warnings.catch_warnings():
        # pvlib 0.16 still calls DatetimeIndex.dayofyear, deprecated by pandas 3
        warnings.filterwarnings("ignore", message=r".*dayofyear is deprecated")
        sky = location.get_clearsky(times, model="ineichen")
        sun = location.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=tilt,
        surface_azimuth=azimuth,
        solar_zenith=sun["apparent_zenith"],
        solar_azimuth=sun["azimuth"],
        dni=sky["dni"],
        ghi=sky["ghi"],
        dhi=sky["dhi"],
        albedo=albedo,
    )
    return poa["poa_global"].fillna(0.0).clip(lower=0.0)


def pvwatts_ac_w(
    poa_w_m2: np.ndarray,
    temp_air_c: float,
    wind_speed_m_s: float,
    dc_nameplate_w: float,
    gamma_pdc_per_c: float,
    losses_fraction: float,
    ac_nameplate_w: float,
    inverter_efficiency: float,
) -> np.ndarray:
    """AC power (W) of a PVWatts array and inverter for plane-of-array irradiance (W/m2)."""
    temp_cell_c = pvlib.temperature.sapm_cell(
        poa_w_m2, temp_air_c, wind_speed_m_s, _SAPM["a"], _SAPM["b"], _SAPM["deltaT"]
    )
    dc_w = pvlib.pvsystem.pvwatts_dc(poa_w_m2, temp_cell_c, dc_nameplate_w, gamma_pdc_per_c)
    dc_w = np.clip(np.asarray(dc_w, dtype=float) * (1.0 - losses_fraction), 0.0, None)
    ac_w = pvlib.inverter.pvwatts(dc_w, ac_nameplate_w / inverter_efficiency, inverter_efficiency)
    return np.clip(np.nan_to_num(np.asarray(ac_w, dtype=float)), 0.0, ac_nameplate_w)


@dataclass(frozen=True)
class PvArray:
    """A fixed PV array: position (degrees), DC size ``kwp`` (kW peak at 1000 W/m2, 25 C),
    ``tilt`` (degrees from horizontal) and ``azimuth`` (degrees clockwise from north, 180 =
    facing south). The defaults are PVWatts' own (DC/AC 1.2, 14 % losses, -0.4 %/C)."""

    latitude: float
    longitude: float
    kwp: float
    tilt: float
    azimuth: float
    altitude_m: float = 0.0
    dc_ac_ratio: float = 1.2
    losses_fraction: float = 0.14
    gamma_pdc_per_c: float = -0.004
    inverter_efficiency: float = 0.96
    temp_air_c: float = 20.0
    wind_speed_m_s: float = 1.0
    albedo: float = 0.25

    def __post_init__(self) -> None:
        checks = [
            (-90 <= self.latitude <= 90, "latitude must be within -90..90 degrees"),
            (-180 <= self.longitude <= 180, "longitude must be within -180..180 degrees"),
            (self.kwp > 0, "kwp must be positive"),
            (0 <= self.tilt <= 90, "tilt must be within 0..90 degrees"),
            (0 <= self.azimuth <= 360, "azimuth must be within 0..360 degrees"),
            (self.dc_ac_ratio > 0, "dc_ac_ratio must be positive"),
            (0 <= self.losses_fraction < 1, "losses_fraction must be within 0..1"),
            (0 < self.inverter_efficiency <= 1, "inverter_efficiency must be within 0..1"),
        ]
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def ac_nameplate_w(self) -> float:
        """The inverter's AC rating: the most the array ever delivers."""
        return self.kwp * 1000.0 / self.dc_ac_ratio

    def power_w(self, times: pd.DatetimeIndex) -> np.ndarray:
        """AC power (W) at each (timezone-aware) time."""
        if times.tz is None:
            raise ValueError("times must be timezone-aware")
        if len(times) == 0:
            return np.zeros(0)
        poa = clear_sky_poa_w_m2(
            times,
            self.latitude,
            self.longitude,
            self.altitude_m,
            self.tilt,
            self.azimuth,
            self.albedo,
        )
        return pvwatts_ac_w(
            poa.to_numpy(dtype=float),
            self.temp_air_c,
            self.wind_speed_m_s,
            self.kwp * 1000.0,
            self.gamma_pdc_per_c,
            self.losses_fraction,
            self.ac_nameplate_w,
            self.inverter_efficiency,
        )

    def at(self, moment: datetime) -> float:
        """AC power (W) at ``moment`` (timezone-aware)."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"moment must be timezone-aware, got {moment.isoformat()}")
        return float(self.power_w(pd.DatetimeIndex([pd.Timestamp(moment)]))[0])

    def series(self, start: datetime, end: datetime, step_s: int) -> pd.Series:
        """AC power (W) every ``step_s`` seconds from ``start`` to before ``end`` (UTC index)."""
        times = sample_times(start, end, step_s)
        return pd.Series(self.power_w(times), index=times, name="power_w")
