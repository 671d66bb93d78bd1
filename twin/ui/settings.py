"""What `evch ui` tells every page: where the runs are and where the CSMS REST API is.

`evch ui --runs DIR --api-url URL` sets EVCH_UI_RUNS and EVCH_UI_API_URL for the Streamlit
process; a page reads them with `ui_settings()`. Run without `evch ui` (e.g. `streamlit run
twin/ui/app.py`, or AppTest), the defaults apply unless those variables are set.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RUNS = Path("runs")
DEFAULT_API_URL = "http://127.0.0.1:8000/api/v1"


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVCH_UI_", extra="ignore", frozen=True)

    runs: Path = DEFAULT_RUNS  # the runs root: each run directory directly below it
    api_url: str = DEFAULT_API_URL  # the CSMS REST API, for the ledger admin page

    def as_env(self) -> dict[str, str]:
        """The environment that gives the Streamlit process these settings."""
        return {"EVCH_UI_RUNS": str(self.runs.resolve()), "EVCH_UI_API_URL": self.api_url}


def ui_settings() -> UiSettings:
    """Read at every script run, so a page always sees the process's current settings."""
    return UiSettings()
