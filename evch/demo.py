"""`evch demo`: the central system and a fleet of emulated chargers, end to end.

Everything is real (WebSockets, OCPP 1.6J and 2.0.1, SQLite, the REST API); only time is
accelerated, through a clock both sides are given. Scenario files and the SimPy twin build on
the same pieces.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from central_system.app import CentralSystem
from central_system.config import Settings
from central_system.domain.model import IdToken, IdTokenStatus
from chargers_sim import ChargerConfig, EmulatedCharger, emulated_charger


class ScaledClock:
    """Wall time sped up `speed` times from a fixed start, for both peers."""

    def __init__(self, start: datetime, speed: float) -> None:
        self._start = start
        self._speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self._speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self._speed)


@dataclass(frozen=True)
class Visit:
    """One EV at one charger: when it plugs in (s after start), how long and how fast it charges."""

    arrive_s: float
    stay_s: float
    power_kw: float


async def run_demo(
    chargers: int, hours: float, speed: float, database_url: str, console: Console
) -> None:
    clock = ScaledClock(datetime(2025, 1, 6, 7, 0, tzinfo=UTC), speed)
    settings = Settings(database_url=database_url, ocpp_port=0, api_port=0, auto_register=True)
    central = CentralSystem(settings, clock)
    await central.start()
    fleet: list[EmulatedCharger] = []
    try:
        for n in range(chargers):
            token = f"DRIVER-{n:03d}"
            await central.service.upsert_id_token(IdToken(token, "ISO14443", IdTokenStatus.ACTIVE))
            config = ChargerConfig(
                f"DEMO-{n:02d}",
                central.ocpp_url,
                ocpp_version="1.6" if n % 2 else "2.0.1",
                max_power_kw=22.0 if n % 3 else 11.0,
                meter_interval_s=300,
            )
            charger = emulated_charger(config, clock)
            await charger.power_on()
            fleet.append(charger)
        for charger in fleet:
            await charger.wait_online()

        horizon_s = hours * 3600
        visits = [
            Visit(
                arrive_s=(n * 0.37 % 1) * horizon_s * 0.4,
                stay_s=horizon_s * (0.25 + (n * 0.61 % 1) * 0.3),
                power_kw=(7.4, 11.0, 22.0)[n % 3],
            )
            for n in range(chargers)
        ]
        with Progress(
            TextColumn("[bold]simulated"),
            BarColumn(),
            TextColumn("{task.fields[at]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("run", total=horizon_s, at="")
            drivers = [
                asyncio.create_task(_drive(c, v, f"DRIVER-{n:03d}", clock))
                for n, (c, v) in enumerate(zip(fleet, visits, strict=True))
            ]
            start = clock.now()
            while (elapsed := (clock.now() - start).total_seconds()) < horizon_s:
                progress.update(task, completed=elapsed, at=clock.now().strftime("%H:%M"))
                await asyncio.sleep(0.1)
            progress.update(task, completed=horizon_s)
            await asyncio.gather(*drivers)
        for charger in fleet:
            await charger.settle()
        async with httpx.AsyncClient(base_url=central.api_url) as api:
            sessions = (await api.get("/sessions")).json()
        _summarise(sessions, fleet, console)
    finally:
        for charger in fleet:
            await charger.power_off()
        await central.stop()


async def _drive(charger: EmulatedCharger, visit: Visit, token: str, clock: ScaledClock) -> None:
    await clock.sleep(visit.arrive_s)
    await charger.plug_in(1)
    if not await charger.authorize(token):
        return
    await charger.start_transaction(1, token)
    charger.set_power(1, visit.power_kw * 1000)
    await clock.sleep(visit.stay_s)
    await charger.unplug(1)


def _summarise(sessions: list[dict], fleet: list[EmulatedCharger], console: Console) -> None:
    versions = {c.id: c.config.ocpp_version for c in fleet}
    table = Table(title="Sessions stored by the central system")
    for column in ("session", "charger", "OCPP", "start", "stop", "energy kWh", "state"):
        table.add_column(column, justify="right" if column == "energy kWh" else "left")
    for s in sessions:
        table.add_row(
            str(s["session_id"]),
            s["charger_id"],
            versions.get(s["charger_id"], "?"),
            s["started_at"][11:16],
            (s["stopped_at"] or "")[11:16],
            f"{(s['energy_wh'] or 0) / 1000:.2f}",
            s["state"],
        )
    console.print(table)
    total = sum(s["energy_wh"] or 0 for s in sessions) / 1000
    console.print(f"{len(sessions)} sessions, {total:.1f} kWh delivered and metered over OCPP.")
