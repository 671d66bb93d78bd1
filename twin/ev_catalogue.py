"""The EV catalogue: which car models come to the network, and in what shares.

The catalogue file is the ``ev_models.json`` shipped with ev2gym 2.0.0 (MIT); see
``scenarios/data/README.md``. Only the fields the twin uses are read: registrations, battery
capacity (kWh) and maximum AC/DC charge power (kW).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EV_MODELS_JSON = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "ev_models.json"
"""The catalogue shipped with the repository (13 models)."""

# our field name -> key in ev_models.json
_FIELDS = {
    "battery_kwh": "battery_capacity",
    "max_ac_kw": "max_ac_charge_power",
    "max_dc_kw": "max_dc_charge_power",
    "registrations": "number_of_registrations",
}


@dataclass(frozen=True)
class EvModel:
    """One car model: usable battery capacity and the most power it accepts."""

    name: str
    battery_kwh: float
    max_ac_kw: float
    max_dc_kw: float
    registrations: int


def _number(value: Any, *, integer: bool = False) -> float | int | None:
    """``value`` as a finite number (an int when ``integer``), or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    if integer:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _model(path: Path, name: str, entry: Any) -> EvModel:
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: model {name!r} is not an object")
    values: dict[str, float | int] = {}
    for field, key in _FIELDS.items():
        if key not in entry:
            raise ValueError(f"{path}: model {name!r} lacks field {key!r} ({field})")
        value = _number(entry[key], integer=field == "registrations")
        positive = field in ("battery_kwh", "max_ac_kw")
        if value is None or value < 0 or (positive and value == 0):
            if field == "registrations":
                need = "a non-negative integer"
            else:
                need = "a positive number" if positive else "a non-negative number"
            raise ValueError(
                f"{path}: model {name!r} field {key!r} ({field}) must be {need}, got {entry[key]!r}"
            )
        values[field] = value
    return EvModel(
        name=name,
        battery_kwh=float(values["battery_kwh"]),
        max_ac_kw=float(values["max_ac_kw"]),
        max_dc_kw=float(values["max_dc_kw"]),
        registrations=int(values["registrations"]),
    )


def load_ev_models(path: str | Path = EV_MODELS_JSON) -> dict[str, EvModel]:
    """Read an ev2gym-style ``ev_models.json``: model name -> :class:`EvModel`.

    Raises ValueError naming the file, the model and the field when the file is not a JSON
    object of objects, or a field is missing or not a valid number (battery capacity and AC
    power must be positive; DC power and registrations non-negative).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: expected a non-empty JSON object keyed by model name")
    return {name: _model(path, name, entry) for name, entry in raw.items()}


def model_shares(
    models: dict[str, EvModel], shares: dict[str, float] | None = None
) -> dict[str, float]:
    """The share of each model among arriving EVs, summing to 1, keyed by sorted name.

    ``shares=None`` weights every model of ``models`` by its registrations. Otherwise only the
    named models take part, in proportion to the given non-negative weights (which need not sum
    to 1). Raises ValueError for an unknown model name, a negative or non-finite weight, or
    weights that sum to zero.
    """
    if shares is None:
        weights = {name: float(model.registrations) for name, model in models.items()}
        what = "registrations"
    else:
        unknown = sorted(set(shares) - set(models))
        if unknown:
            raise ValueError(f"unknown EV model(s) in shares: {', '.join(map(repr, unknown))}")
        weights = {}
        for name, weight in shares.items():
            value = _number(weight)
            if value is None or value < 0:
                raise ValueError(
                    f"share of EV model {name!r} must be a non-negative number, got {weight!r}"
                )
            weights[name] = value
        what = "shares"
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"EV model {what} sum to zero: no model can arrive")
    return {name: weights[name] / total for name in sorted(weights)}
