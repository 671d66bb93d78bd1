"""Small ACN-Data sessions files for replay scenarios in tests (2019-06-10, Pasadena time)."""

from __future__ import annotations

from pathlib import Path

ACN_HEADER = (
    "arrival,departure,requested_energy (kWh),delivered_energy (kWh),station_id,session_id,"
    "estimated_departure,claimed"
)


def acn_row(arrival: str, departure: str, delivered_kwh: float, station: str, n: int) -> str:
    """One session on 2019-06-10 (times HH:MM:SS, PDT); drivers requested twice what they got."""
    return (
        f"2019-06-10 {arrival}-07:00,2019-06-10 {departure}-07:00,"
        f"{delivered_kwh * 2},{delivered_kwh},{station},s{n},,True\n"
    )


def write_sessions_csv(path: Path, rows: str) -> None:
    path.write_text(f"{ACN_HEADER}\n{rows}")
