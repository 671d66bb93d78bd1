"""`evch`: run the central system and manage its database."""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
from typing import Annotated

import typer
from rich.console import Console

from central_system.app import CentralSystem
from central_system.clock import SystemClock
from central_system.config import Settings
from central_system.domain.model import IdToken, IdTokenStatus, OcppVersion
from central_system.store import Database, migrate
from central_system.store import repository as repo

app = typer.Typer(
    help="EVCH: EV charging network platform and its digital twin.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema and operator records.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(envvar="EVCH_DATABASE_URL", help="SQLAlchemy URL (default: SQLite evch.db)"),
]


def _settings(**overrides) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@app.command()
def serve(
    # Unset options fall back to EVCH_* environment variables, then to the Settings defaults.
    host: Annotated[str | None, typer.Option(help="interface [127.0.0.1]")] = None,
    ocpp_port: Annotated[int | None, typer.Option(help="OCPP WebSocket port [9000]")] = None,
    api_port: Annotated[int | None, typer.Option(help="REST API port [8000]")] = None,
    auto_register: Annotated[
        bool | None,
        typer.Option(
            "--auto-register/--no-auto-register",
            help="accept unknown charger ids (development and HIL rigs only) [off]",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Run the central system: OCPP endpoint ws://HOST:OCPP_PORT/ocpp/{charger_id} and REST API."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(
        host=host,
        ocpp_port=ocpp_port,
        api_port=api_port,
        auto_register=auto_register,
        database_url=database_url,
    )
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    central = CentralSystem(settings, SystemClock())
    await central.start()
    console.print(f"OCPP  {central.ocpp_url}/{{charger_id}}  (ocpp1.6, ocpp2.0.1)")
    console.print(f"API   {central.api_url}  (OpenAPI: {central.api_url}/openapi.json)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    console.print("shutting down: closing charger connections, committing queued writes")
    await central.stop()


@app.command()
def demo(
    chargers: Annotated[int, typer.Option(help="emulated chargers, alternating 1.6 / 2.0.1")] = 10,
    hours: Annotated[float, typer.Option(help="simulated hours")] = 4.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per wall second")] = 1200.0,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: a fresh SQLite file)")
    ] = None,
) -> None:
    """Run the central system with a fleet of emulated chargers charging EVs, end to end."""
    from evch.demo import run_demo

    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="evch-demo-") as folder:
        url = database_url or f"sqlite:///{folder}/evch.db"
        asyncio.run(run_demo(chargers, hours, speed, url, Console()))


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply the Alembic migrations."""
    settings = _settings(database_url=database_url)
    migrate(settings.database_url)
    console.print(f"schema up to date: {settings.database_url}")


@db_app.command("add-charger")
def add_charger(
    charger_id: str,
    ocpp_version: Annotated[OcppVersion | None, typer.Option(help="1.6 or 2.0.1")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a charger so that it may connect."""
    db = _migrated(database_url)
    db.run(repo.register_charger, charger_id, SystemClock().now(), ocpp_version)
    console.print(f"charger {charger_id} registered")


@db_app.command("add-token")
def add_token(
    id_token: str,
    blocked: Annotated[bool, typer.Option(help="register the token as blocked")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a driver's id token."""
    db = _migrated(database_url)
    status = IdTokenStatus.BLOCKED if blocked else IdTokenStatus.ACTIVE
    db.run(repo.upsert_id_token, IdToken(id_token, "ISO14443", status))
    console.print(f"id token {id_token} is {status.value}")


def _migrated(database_url: str | None) -> Database:
    settings = _settings(database_url=database_url)
    migrate(settings.database_url)
    return Database(settings.database_url)
