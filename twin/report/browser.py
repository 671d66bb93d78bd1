"""Headless Chromium, found on PATH and run offline: it prints the report to PDF, and the tests
use it to load the page as a reader's browser would."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "install one with `apt-get install chromium`"
# The report must open offline: nothing leaves the machine while Chromium reads it. A proxy
# nobody listens on makes any fetch fail here, and Chromium's own services stay off.
OFFLINE_FLAGS = (
    "--proxy-server=127.0.0.1:9",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
)


class BrowserError(RuntimeError):
    """Chromium failed, or did not finish in time, on a page."""


def find_browser() -> str | None:
    """The first of BROWSERS on PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def run_headless(
    browser: str, page: Path, flags: tuple[str, ...], timeout_s: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Chromium headless on ``page`` with ``flags`` (e.g. --dump-dom), in a throwaway profile.

    Chromium starts helper processes: on timeout the whole process group is killed, not just
    the launcher.
    """
    with tempfile.TemporaryDirectory(prefix="evch-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            *OFFLINE_FLAGS,
            *flags,
            page.resolve().as_uri(),
        ]
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise BrowserError(
                    f"{browser} did not finish {page} within {timeout_s} s"
                ) from None
    if process.returncode != 0:
        raise BrowserError(
            f"{browser} exited with {process.returncode} on {page}: {stderr[-2000:]}"
        )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
