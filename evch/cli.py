"""`evch`: run the central system, run scenarios on the twin, manage the database."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from central_system.app import CentralSystem
from central_system.clock import SystemClock
from central_system.config import Settings
from central_system.domain.model import IdToken, IdTokenStatus, OcppVersion
from central_system.ledger import LedgerUnavailable
from central_system.payments import EvchPeg
from central_system.store import Database, migrate
from central_system.store import repository as repo
from central_system.tokens.bootstrap import BootstrapError, TokenDeployment, TokenSettings
from central_system.tokens.settings_file import TokenSettingsError, load_token_settings
from evch.localnet import evch_deployed, write_keys
from evch.serve_tokens import ServeTokens, attach_token_service, open_ledger
from programs.localnet import LocalnetServer

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
def validator(
    host: Annotated[str, typer.Option(help="interface")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="JSON-RPC port (0: a free one)")] = 8899,
    deploy: Annotated[
        bool,
        typer.Option(
            "--bootstrap/--no-bootstrap",
            help="deploy the Proof-of-Charge and staking programs, create the EVCH and Green "
            "Credit mints",
        ),
    ] = True,
    keys_out: Annotated[
        Path | None,
        typer.Option(
            help="write the addresses and the authorities' secret keys to this JSON file "
            "(mode 0600; local development only)"
        ),
    ] = None,
    token_settings: Annotated[
        Path | None,
        typer.Option(
            help="bootstrap with this token settings file (its token_service table, as the "
            "tokenomics tuner exports it; a peg in it is the central system's, unused here)"
        ),
    ] = None,
) -> None:
    """Run a local Solana cluster: LiteSVM behind the standard JSON-RPC (like
    solana-test-validator), for the central system's RpcLedger and any Solana client."""
    if keys_out is not None and not deploy:
        raise typer.BadParameter("there are no keys without --bootstrap", param_hint="--keys-out")
    if token_settings is not None and not deploy:
        message = "nothing is configured without --bootstrap"
        raise typer.BadParameter(message, param_hint="--token-settings")
    settings = _token_settings_or_exit(token_settings)[0] if token_settings else None
    asyncio.run(_validate_forever(host, port, deploy, keys_out, settings))


def _token_settings_or_exit(path: Path) -> tuple[TokenSettings, EvchPeg | None]:
    try:
        return load_token_settings(path)
    except TokenSettingsError as error:
        console.print(error.message, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _print_deployment(deployment: TokenDeployment) -> None:
    table = Table("EVCH", "address", title="Deployed (new keys at every start)")
    for name, address in deployment.as_dict().items():
        table.add_row(name, address)
    console.print(table)


async def _validate_forever(
    host: str, port: int, deploy: bool, keys_out: Path | None, settings: TokenSettings | None
) -> None:
    async with LocalnetServer(host=host, port=port) as server:
        if deploy:
            async with evch_deployed(server.url, "evch validator", settings) as local:
                _print_deployment(local.deployment)
                if keys_out is not None:
                    write_keys(keys_out, local)
                    console.print(f"secret keys in {keys_out} (local development only)")
        console.print(f"Solana JSON-RPC  {server.url}  (LiteSVM; transactions final at once)")
        await _until_stopped()


@app.command()
def serve(
    # Unset options fall back to EVCH_* environment variables, then to the Settings defaults.
    host: Annotated[str | None, typer.Option(help="interface (default: 127.0.0.1)")] = None,
    ocpp_port: Annotated[
        int | None, typer.Option(help="OCPP WebSocket port (default: 9000)")
    ] = None,
    api_port: Annotated[int | None, typer.Option(help="REST API port (default: 8000)")] = None,
    auto_register: Annotated[
        bool | None,
        typer.Option(
            "--auto-register/--no-auto-register",
            help="accept unknown charger ids (development and HIL rigs only; default: off)",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
    tokens: Annotated[
        bool,
        typer.Option(
            "--tokens/--no-tokens",
            help="run the EVCH token service (/api/v1/token/*): deploy EVCH with new keys on "
            "the ledger at every start",
        ),
    ] = False,
    ledger_url: Annotated[
        str | None,
        typer.Option(
            help="with --tokens: a Solana JSON-RPC ledger, e.g. `evch validator` at "
            "http://127.0.0.1:8899 (default: the embedded LiteSVM, in this process)"
        ),
    ] = None,
    token_settings: Annotated[
        Path | None,
        typer.Option(help="with --tokens: a token settings file (rates, fee, tiers, peg)"),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="EVCH_ADMIN_TOKEN",
            help="bearer token of /api/v1/token/admin/* (unset: they refuse everyone)",
        ),
    ] = None,
) -> None:
    """Run the central system: OCPP endpoint ws://HOST:OCPP_PORT/ocpp/{charger_id} and REST API."""
    if not tokens and (ledger_url or token_settings):
        given = "--ledger-url" if ledger_url else "--token-settings"
        raise typer.BadParameter("only with --tokens", param_hint=given)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(
        host=host,
        ocpp_port=ocpp_port,
        api_port=api_port,
        auto_register=auto_register,
        database_url=database_url,
        admin_token=admin_token,
    )
    serve_tokens = None
    if tokens:
        token_config, peg = (
            _token_settings_or_exit(token_settings) if token_settings else (TokenSettings(), None)
        )
        serve_tokens = ServeTokens(ledger_url, token_config, peg)
    try:
        asyncio.run(_serve(settings, serve_tokens))
    except (LedgerUnavailable, BootstrapError) as error:
        message = f"EVCH could not be deployed: {error}"
        console.print(message, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


async def _serve(settings: Settings, tokens: ServeTokens | None = None) -> None:
    central = CentralSystem(settings, SystemClock())
    await central.start()
    ledger = None if tokens is None else open_ledger(tokens.ledger_url, central.clock)
    try:
        if tokens is not None:
            _print_deployment(await attach_token_service(central, ledger, tokens))
            where = tokens.ledger_url or "the embedded LiteSVM (in this process, gone at exit)"
            console.print(f"EVCH  on {where}")
            if not settings.admin_token:
                console.print("no --admin-token: /api/v1/token/admin/* refuse everyone")
        console.print(f"OCPP  {central.ocpp_url}/{{charger_id}}  (ocpp1.6, ocpp2.0.1)")
        console.print(f"API   {central.api_url}  (OpenAPI: {central.api_url}/openapi.json)")
        await _until_stopped()
        console.print("shutting down: closing charger connections, committing queued writes")
    finally:
        await central.stop()  # the token service first, then its ledger
        if ledger is not None:
            await ledger.close()


async def _until_stopped() -> None:
    """Return on SIGINT (Ctrl-C) or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@app.command()
def validate(scenario_file: Annotated[Path, typer.Argument(help="scenario TOML file")]) -> None:
    """Check a scenario file; every problem is listed with its TOML path and line (exit 2)."""
    loaded = _load_or_exit(scenario_file)
    scenario = loaded.scenario
    chargers = scenario.chargers()
    console.print(
        f"{scenario_file}: valid: {scenario.scenario.name!r}, {len(scenario.sites)} site(s), "
        f"{len(chargers)} chargers, {scenario.scenario.duration_h:g} h from "
        f"{scenario.start_at.isoformat()}, seed {scenario.scenario.seed}"
    )


@app.command()
def run(
    scenario_file: Annotated[Path, typer.Argument(help="scenario TOML file")],
    out: Annotated[
        Path | None,
        typer.Option(help="run directory (default: runs/<scenario file name without .toml>)"),
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR")] = "ERROR",
) -> None:
    """Run a scenario end to end (twin, emulated chargers, CSMS) and write its run directory."""
    from twin.runner import run_scenario

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    loaded = _load_or_exit(scenario_file)
    out_dir = out or Path("runs") / scenario_file.stem
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[at]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(loaded.scenario.scenario.name, total=1.0, at="")
        start = loaded.scenario.start_at

        def advance(simulated_s: float, total_s: float) -> None:
            at = (start + timedelta(seconds=simulated_s)).strftime("%Y-%m-%d %H:%M")
            progress.update(task, completed=simulated_s / total_s, at=at)

        summary = asyncio.run(run_scenario(loaded, out_dir, advance))
    _print_summary(summary)


@app.command()
def replay(
    run_dir: Annotated[Path, typer.Argument(help="a run directory written by `evch run`")],
    ledger_url: Annotated[
        str | None,
        typer.Option(help="check a live ledger (JSON-RPC URL) instead of the run's ledger.jsonl"),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="exit 3 when sessions are unverified, even if all reconciles")
    ] = False,
) -> None:
    """Audit a run from its recorded OCPP frames: rebuild every session, verify its signed
    energy, check price and mint against the CSMS and the ledger, write report.html and
    report.pdf. Exit 0 only when everything reconciles (1 when it does not)."""
    from twin.replay import RunDirError
    from twin.replay import replay as audit_run
    from twin.report import write_report

    try:
        with console.status(f"replaying {run_dir}"):
            audit = audit_run(run_dir, ledger_url=ledger_url)
            files = write_report(audit, run_dir)
    except RunDirError as error:
        # Not as markup, nor wrapped: a path may hold "[...]", and a wrapped one is not one.
        console.print(str(error), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    _print_audit(audit, files)
    if not audit.reconciled:
        raise typer.Exit(1)
    if strict and audit.exceptions:
        raise typer.Exit(3)


def _print_audit(audit, files) -> None:
    table = Table(title=f"Replay of {audit.run_dir}", show_header=False)
    table.add_row("OCPP frames", f"{audit.frames:,}")
    verified = len(audit.sessions) - len(audit.exceptions)
    table.add_row(
        "sessions",
        f"{len(audit.sessions)}, {verified} verified ({audit.verified_share:.1%})",
    )
    for session in audit.exceptions:
        table.add_row(
            "unverified", f"{session.charger_id} {session.transaction_ref}: {session.reason}"
        )
    for limit in audit.limits:
        verdict = "within" if limit.compliant else f"OVER in {limit.intervals_over} intervals"
        table.add_row(
            f"grid limit {limit.site_id}",
            f"{verdict} (peak {limit.peak_kw:,.1f} of {limit.grid_limit_kw:,.1f} kW)",
        )
    expected = sum(s.expected_mint_raw for s in audit.sessions)
    minted = sum(s.minted_raw or 0 for s in audit.sessions)
    table.add_row(
        "EVCH", f"{minted / 10**6:,.6f} minted, {expected / 10**6:,.6f} earned by verified energy"
    )
    verdict = "[green]reconciled[/green]"
    if not audit.reconciled:
        verdict = f"[red]{len(audit.differences)} differences[/red]"
    table.add_row("verdict", verdict)
    for difference in audit.differences:
        table.add_row("difference", difference)
    table.add_row("report", str(files.html) + (f", {files.pdf}" if files.pdf else " (no PDF)"))
    Console().print(table)


@app.command()
def ui(
    # Unset options fall back to EVCH_UI_* environment variables, then to twin/ui/settings.py.
    port: Annotated[int, typer.Option(help="HTTP port")] = 8501,
    host: Annotated[str, typer.Option(help="interface")] = "127.0.0.1",
    runs: Annotated[
        Path | None,
        typer.Option(help="the runs root, run directories directly below it (default: ./runs)"),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            help="the CSMS REST API, for the ledger admin page "
            "(default: http://127.0.0.1:8000/api/v1)"
        ),
    ] = None,
) -> None:
    """Serve the Streamlit views: tokenomics tuner, run explorer, replay report, ledger admin."""
    from twin.ui.serve import serve
    from twin.ui.settings import UiSettings

    overrides = {"runs": runs, "api_url": api_url}
    settings = UiSettings(**{k: v for k, v in overrides.items() if v is not None})
    console.print(f"EVCH views on http://{host}:{port} (runs under {settings.runs.resolve()})")
    serve(settings, host, port)


def _load_or_exit(path: Path):
    from twin.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as error:
        console.print(error.report(), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _print_summary(summary) -> None:
    table = Table(title=f"Run written to {summary.out_dir}", show_header=False)
    table.add_row("arrivals", str(summary.arrivals))
    table.add_row("sessions", str(summary.sessions))
    refused = ", ".join(f"{n} {reason}" for reason, n in summary.refused.items()) or "none"
    table.add_row("refused", refused)
    table.add_row("energy", f"{summary.energy_kwh:,.1f} kWh")
    for site, peak_kw in summary.peak_kw.items():
        table.add_row(f"peak {site}", f"{peak_kw:,.1f} kW")
    for currency, total in summary.billed.items():
        table.add_row(f"billed {currency}", f"{total.major:,}")
    unverified = ", ".join(f"{n} {reason}" for reason, n in summary.unverified.items())
    table.add_row(
        "verified energy",
        f"{summary.verified} sessions signed and verified"
        + (f"; unverified: {unverified}" if unverified else ""),
    )
    if summary.tokens is not None:
        minted = summary.tokens
        verdict = "reconciled" if minted.reconciled else f"{len(minted.differences)} differences"
        table.add_row(
            "EVCH minted",
            f"{minted.minted_raw / 10**6:,.6f} EVCH for {minted.sessions_minted} sessions "
            f"({minted.sessions_blocked} waiting for KYC, {minted.sessions_unverified} "
            f"unverified); {verdict}",
        )
        table.add_row(
            "rewards",
            f"{minted.rewards_raw / 10**6:,.6f} EVCH off-peak/renewable, "
            f"{minted.green_credit_raw / 10**6:,.6f} Green Credits",
        )
        if minted.sessions_paid:
            table.add_row(
                "paid in EVCH",
                f"{minted.sessions_paid} sessions, {minted.paid_raw / 10**6:,.6f} EVCH "
                f"({minted.fees_raw / 10**6:,.6f} EVCH platform fees)",
            )
    table.add_row("OCPP frames", f"{summary.frames:,}")
    table.add_row("wall time", f"{summary.wall_s:,.1f} s")
    table.add_row(
        "speed",
        f"{summary.speedup:,.0f} simulated s per wall s "
        f"({summary.simulated_s / 86400 / summary.wall_s:.2f} days/s)",
    )
    Console().print(table)


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
