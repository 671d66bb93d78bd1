"""Settings of the central system, validated by pydantic-settings (env prefix EVCH_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///evch.db"


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
    # The bearer token of /api/v1/token/admin/*; unset, the admin routes refuse everyone.
    admin_token: str | None = Field(default=None, repr=False)
