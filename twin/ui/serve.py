"""`evch ui`: Streamlit serves app.py headless, with the settings in its environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from twin.ui.settings import UiSettings

APP = Path(__file__).with_name("app.py")


def streamlit_command(host: str, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "streamlit", "run", str(APP)),
        *("--server.address", host, "--server.port", str(port)),
        "--server.headless=true",  # no browser opened, no e-mail prompt
        "--browser.gatherUsageStats=false",  # no telemetry
        "--server.fileWatcherType=none",  # an installed app does not change under it
        "--client.toolbarMode=viewer",  # no "Deploy" button or developer menu
    ]


def serve(settings: UiSettings, host: str, port: int) -> NoReturn:
    """Become the Streamlit server (exec): Ctrl-C and SIGTERM reach it directly."""
    os.execve(sys.executable, streamlit_command(host, port), os.environ | settings.as_env())
