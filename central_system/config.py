"""Settings of the central system, validated by pydantic-settings (env prefix EVCH_)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///evch.db"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class ApiAuth(StrEnum):
    REQUIRED = "required"
    OFF = "off"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVCH_", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL")
    host: str = "127.0.0.1"
    ocpp_port: int = 9000
    api_port: int = 8000
    auto_register: bool = Field(
        default=False, description="accept unknown charger ids (development and HIL rigs)"
    )
    heartbeat_interval_s: int = 300
    # Site load management re-plans every site this often (and on every start and stop).
    replan_interval_s: int = 300
    # Priced sites publish a price for every interval of this length (it must divide an hour).
    price_interval_s: int = 900
    # Real chargers send harmless extra fields; log them instead of refusing the message.
    lenient_validation: bool = True
    # A bearer token with the admin role on the whole REST API, besides the API keys stored in
    # the database (`evch db add-api-key`); unset, only those keys.
    admin_token: str | None = Field(default=None, repr=False)
    # REST API authentication: "required" (every route but health and the OpenAPI needs a key),
    # or "off" (development only: a request without a key acts as the operator role).
    api_auth: ApiAuth = ApiAuth.REQUIRED
    # OCPP security profile of the charger endpoint: 0 none, 1 Basic Auth (per-charger
    # passwords, stored hashed), 2 Basic Auth over TLS, 3 TLS with client certificates whose
    # subject CN is the charger id.
    security_profile: int = Field(default=0, ge=0, le=3)
    # Profiles 2 and 3: the server's certificate chain and key (PEM).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Profile 3: the CA(s) (PEM) the chargers' client certificates must chain to.
    tls_ca_file: Path | None = None
    # -- the service: `evch serve`, which reads these from a file too (config_file.py) ---------
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = "INFO"
    # "json": one JSON object per line (time, level, logger, message, charger_id, ...).
    log_format: Literal["text", "json"] = "text"
    # On SIGTERM: how long the calls chargers are waiting on, and REST requests, may take still.
    shutdown_grace_s: float = Field(default=10, gt=0, le=600)
    # The EVCH token service (/api/v1/token/*), bootstrapped on the ledger at every start:
    # a Solana JSON-RPC URL, or none for the embedded LiteSVM; rates etc. from token_settings.
    tokens: bool = False
    ledger_url: str | None = None
    token_settings: Path | None = None
