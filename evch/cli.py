"""`evch`: run the central system, run scenarios on the twin, manage the database."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from central_system.access import Role, check_name, key_hash, new_api_key
from central_system.app import CentralSystem
from central_system.clock import SystemClock
from central_system.config import ApiAuth, Settings
from central_system.config_file import ConfigError, load_settings
from central_system.domain.model import IdToken, IdTokenStatus, OcppVersion
from central_system.errors import CentralSystemError
from central_system.ledger import LedgerUnavailable
from central_system.observability.logs import configure_logging
from central_system.payments import EvchPeg
from central_system.security import PasswordRuleError, generate_password, hash_password
from central_system.store import Database, migrate
from central_system.store import api_keys as api_key_repo
from central_system.store import credentials as credentials_repo
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


def _fail(message: str, code: int, style: str | None = None) -> NoReturn:
    """Print `message` and exit with `code`. Not as markup, nor wrapped: a path may hold
    "[...]", and a wrapped one is not one."""
    console.print(message, style=style, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code) from None


def _token_settings_or_exit(path: Path) -> tuple[TokenSettings, EvchPeg | None]:
    try:
        return load_token_settings(path)
    except TokenSettingsError as error:
        _fail(error.message, 2)


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
    # Unset options fall back to EVCH_* environment variables, then to the --config file, then
    # to the Settings defaults.
    config: Annotated[
        Path | None,
        typer.Option(
            help="a TOML settings file, its keys the Settings fields (central_system/"
            "evch.example.toml); EVCH_* environment variables and these options override it"
        ),
    ] = None,
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
    log_level: Annotated[
        str | None, typer.Option(help="DEBUG, INFO, WARNING, ERROR (default: INFO)")
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(help="json (one object per line, for a log collector) or text (default)"),
    ] = None,
    tokens: Annotated[
        bool | None,
        typer.Option(
            "--tokens/--no-tokens",
            help="run the EVCH token service (/api/v1/token/*): deploy EVCH with new keys on "
            "the ledger at every start",
        ),
    ] = None,
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
            help="a bearer token with the admin role on the REST API, besides the API keys "
            "(`evch db add-api-key`)",
        ),
    ] = None,
    api_auth: Annotated[
        ApiAuth | None,
        typer.Option(
            envvar="EVCH_API_AUTH",
            help="REST API authentication: required (default), or off (development only: "
            "a request without a key acts as the operator role)",
        ),
    ] = None,
) -> None:
    """Run the central system: OCPP endpoint ws://HOST:OCPP_PORT/ocpp/{charger_id}, REST API,
    and /health, /ready and /metrics (Prometheus) on the API's port, until SIGTERM or Ctrl-C."""
    flags = {
        "host": host,
        "ocpp_port": ocpp_port,
        "api_port": api_port,
        "auto_register": auto_register,
        "database_url": database_url,
        "admin_token": admin_token,
        "api_auth": api_auth,
        "log_level": log_level,
        "log_format": log_format,
        "tokens": tokens,
        "ledger_url": ledger_url,
        "token_settings": token_settings,
    }
    try:
        settings = load_settings(config, {k: v for k, v in flags.items() if v is not None})
    except ConfigError as error:
        _fail(error.message, 2)
    if not settings.tokens and (settings.ledger_url or settings.token_settings):
        given = "--ledger-url" if settings.ledger_url else "--token-settings"
        raise typer.BadParameter("only with --tokens", param_hint=given)
    configure_logging(settings.log_level, settings.log_format)
    serve_tokens = None
    if settings.tokens:
        token_config, peg = (
            _token_settings_or_exit(settings.token_settings)
            if settings.token_settings
            else (TokenSettings(), None)
        )
        serve_tokens = ServeTokens(settings.ledger_url, token_config, peg)
    try:
        asyncio.run(_serve(settings, serve_tokens))
    except (LedgerUnavailable, BootstrapError) as error:
        _fail(f"EVCH could not be deployed: {error}", 1)


async def _serve(settings: Settings, tokens: ServeTokens | None = None) -> None:
    say = _Announcer(settings.log_format == "json")
    central = CentralSystem(settings, SystemClock())
    await central.start()
    ledger = None if tokens is None else open_ledger(tokens.ledger_url, central.clock)
    try:
        if tokens is not None:
            deployment = await attach_token_service(central, ledger, tokens)
            if say.json_lines:
                say("EVCH deployed", deployment=deployment.as_dict())
            else:
                _print_deployment(deployment)
            where = tokens.ledger_url or "the embedded LiteSVM (in this process, gone at exit)"
            say(f"EVCH  on {where}", ledger=tokens.ledger_url or "embedded")
        ocpp_url, api_url = central.ocpp_url, central.api_url
        say(f"OCPP  {ocpp_url}/{{charger_id}}  (ocpp1.6, ocpp2.0.1)", ocpp_url=ocpp_url)
        say(f"API   {api_url}  (OpenAPI: {api_url}/openapi.json)", api_url=api_url)
        if settings.api_auth is ApiAuth.OFF:
            say("auth  OFF (development): a request without a key acts as operator")
        else:
            say("auth  `Authorization: Bearer <key>` (evch db add-api-key)")
        await _until_stopped()
        say("shutting down: closing charger connections, committing queued writes")
    finally:
        await central.stop()  # the token service first, then its ledger
        if ledger is not None:
            await ledger.close()


class _Announcer:
    """What `evch serve` tells its operator: a line on the console, or with JSON logs a log
    record (so that every line on stderr stays one JSON object)."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines
        self._log = logging.getLogger("evch.serve")

    def __call__(self, text: str, **fields: object) -> None:
        if self.json_lines:
            self._log.info(" ".join(text.split()), extra=fields)
        else:
            console.print(text)


async def _until_stopped() -> None:
    """Return on SIGINT (Ctrl-C) or SIGTERM; a second one ends the process at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for sig in signals:
        loop.remove_signal_handler(sig)  # back to the defaults: a second signal is not ignored


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
    realtime: Annotated[
        bool,
        typer.Option(
            "--realtime",
            help="pace the run by the wall clock (SimPy RealtimeEnvironment) instead of "
            "virtual time",
        ),
    ] = False,
    speed: Annotated[
        float,
        typer.Option(min=0.001, help="with --realtime: simulated seconds per wall second"),
    ] = 1.0,
    csms_url: Annotated[
        str | None,
        typer.Option(
            help="with --realtime: an external CSMS's OCPP endpoint, e.g. "
            "ws://HOST:9000/ocpp (HIL; default: a CSMS in this process)"
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(help="with --csms-url: its REST API, e.g. http://HOST:8000/api/v1"),
    ] = None,
    api_token: Annotated[
        str | None,
        typer.Option(
            envvar="EVCH_API_TOKEN",
            help="with --api-url: the bearer credential sent to it (registering meter keys and "
            "sites needs the admin role)",
        ),
    ] = None,
) -> None:
    """Run a scenario end to end (twin, emulated chargers, CSMS) and write its run directory."""
    from twin.runner import RealtimeOptions, RunModeError, run_scenario

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not realtime and (csms_url or api_url or speed != 1.0):
        given = "--csms-url" if csms_url else "--api-url" if api_url else "--speed"
        raise typer.BadParameter("only with --realtime", param_hint=given)
    if api_url and not csms_url:
        raise typer.BadParameter("only with --csms-url", param_hint="--api-url")
    loaded = _load_or_exit(scenario_file)
    out_dir = out or Path("runs") / scenario_file.stem
    options = (
        RealtimeOptions(speed=speed, csms_url=csms_url, api_url=api_url, api_token=api_token)
        if realtime
        else None
    )
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
            if csms_url:  # the run starts at the wall clock's now: show the time into it
                at = f"+{timedelta(seconds=round(simulated_s))}"
            else:
                at = (start + timedelta(seconds=simulated_s)).strftime("%Y-%m-%d %H:%M")
            progress.update(task, completed=simulated_s / total_s, at=at)

        try:
            summary = asyncio.run(run_scenario(loaded, out_dir, advance, options))
        except RunModeError as error:
            _fail(str(error), 2)
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
        _fail(str(error), 2, style="red")
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
    if audit.real_chargers:
        table.add_row("real chargers", ", ".join(audit.real_chargers) + " (frames not recorded)")
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
        _fail(error.report(), 2)


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
    if summary.real_chargers:
        table.add_row("real chargers", ", ".join(summary.real_chargers))
    if summary.lag is not None:
        lag = summary.lag
        table.add_row(
            "real-time lag",
            f"p50 {lag.p50_ms:,.1f} ms, p99 {lag.p99_ms:,.1f} ms, max {lag.max_ms:,.1f} ms "
            f"behind the wall clock ({lag.events:,} events before the end)",
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


@db_app.command("set-charger-password")
def set_charger_password(
    charger_id: str,
    generate: Annotated[
        bool, typer.Option(help="generate a random 40-character password and print it once")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a registered charger's Basic Auth password (prompted, or from EVCH_CHARGER_PASSWORD).

    Only its salted scrypt hash is stored. OCPP wants 16 to 40 characters from a-z, A-Z, 0-9
    and *-_=:+|@. Never an argument: command lines end up in shell histories and `ps`.
    """
    password = os.environ.get("EVCH_CHARGER_PASSWORD")
    if generate:
        password = generate_password()
    elif password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        stored = hash_password(password)
    except PasswordRuleError as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    db = _migrated(database_url)
    try:
        db.run(credentials_repo.set_charger_password, charger_id, stored, SystemClock().now())
    except LookupError as error:
        console.print(error.args[0], style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(f"charger {charger_id}: password set (stored hashed)", markup=False)
    if generate:
        print(password)  # stdout, once: configure it on the charger now


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


@db_app.command("add-api-key")
def add_api_key(
    name: Annotated[str, typer.Argument(help="who or what uses the key, e.g. billing-export")],
    role: Annotated[Role, typer.Option(help="what the key may do (see the README)")],
    database_url: DatabaseUrl = None,
) -> None:
    """Make a REST API key and print it once (only its SHA-256 is stored)."""
    try:
        check_name(name)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="NAME") from None
    key = new_api_key()
    db = _migrated(database_url)
    try:
        db.run(api_key_repo.add_api_key, name, role, key_hash(key), SystemClock().now())
    except CentralSystemError as error:
        console.print(error.message, markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(f"API key {name} ({role.value}): shown once, keep it now")
    print(key)  # stdout, once: `Authorization: Bearer <key>`


@db_app.command("revoke-api-key")
def revoke_api_key(name: str, database_url: DatabaseUrl = None) -> None:
    """Revoke a REST API key for good: it is refused from its next request on."""
    db = _migrated(database_url)
    revoked = db.run(api_key_repo.revoke_api_key, name, SystemClock().now())
    if revoked is None:
        console.print(f"no API key named {name!r}", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"API key {name} revoked at {revoked.revoked_at:%Y-%m-%d %H:%M:%S %Z}")


@db_app.command("list-api-keys")
def list_api_keys(database_url: DatabaseUrl = None) -> None:
    """The REST API keys: name, role, created, revoked (never the keys)."""
    table = Table("name", "role", "created", "revoked")
    for key in _migrated(database_url).run(api_key_repo.list_api_keys):
        revoked = "" if key.active else f"{key.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(key.name, key.role.value, f"{key.created_at:%Y-%m-%d %H:%M}", revoked)
    Console().print(table)


def _migrated(database_url: str | None) -> Database:
    settings = _settings(database_url=database_url)
    migrate(settings.database_url)
    return Database(settings.database_url)
