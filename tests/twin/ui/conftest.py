"""The views' fixtures, all real: a quickstart run made by `evch run`, a central system
(`evch serve --tokens`) for the ledger admin page, `evch ui` serving both, and headless Chromium
(the system's, driven by Playwright) to look at it. Screenshots go to the `screenshots` folder
under pytest's temporary directory (its path is printed with -s)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from streamlit.testing.v1 import AppTest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
CHROMIUM = "/usr/bin/chromium"
ADMIN_TOKEN = "ui-test-admin-token"  # the CSMS's /api/v1/token/admin/* bearer token
START_TIMEOUT_S = 60


def evch(*args: str) -> list[str]:
    """The installed `evch` command with `args`."""
    command = shutil.which("evch")
    assert command, "the evch command is not installed: pip install -e ."
    return [command, *args]


def checked(at: AppTest) -> AppTest:
    """`at`, once its script ran without an exception."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    """The page's st.metric values by label."""
    return {metric.label: metric.value for metric in at.metric}


@pytest.fixture(scope="session")
def runs_root(quickstart_run: Path) -> Path:
    """A runs root holding one run, quickstart, as `evch run` writes it (tests/conftest.py)."""
    return quickstart_run.parent


@pytest.fixture(scope="session")
def quickstart(quickstart_run: Path) -> Path:
    return quickstart_run


@pytest.fixture(scope="session")
def csms_api_url(tmp_path_factory) -> Iterator[str]:
    """A central system with the token service on the embedded ledger: its REST API URL."""
    port = free_port()
    folder = tmp_path_factory.mktemp("csms")
    command = evch(
        *("serve", "--tokens", "--ocpp-port", str(free_port()), "--api-port", str(port)),
        *("--database-url", f"sqlite:///{folder / 'evch.db'}", "--log-level", "WARNING"),
    )
    url = f"http://127.0.0.1:{port}/api/v1"
    env = {"EVCH_ADMIN_TOKEN": ADMIN_TOKEN}
    with _server(command, f"{url}/health", env, folder / "serve.log"):
        yield url


@pytest.fixture(scope="session")
def ui_url(runs_root: Path, csms_api_url: str, tmp_path_factory) -> Iterator[str]:
    """`evch ui` on a free port, over `runs_root` and the central system: its base URL."""
    port = free_port()
    command = evch("ui", "--port", str(port), "--runs", str(runs_root), "--api-url", csms_api_url)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    with _server(command, f"{url}/_stcore/health", {}, log):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it
    # lives, and the asyncio tests of later modules need the thread's loop free again.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots", numbered=False)
    print(f"\nscreenshots in {folder}")
    return folder


@contextmanager
def _server(command: list[str], health_url: str, env: dict[str, str], log: Path) -> Iterator[None]:
    """A server process of `command`, once `health_url` answers 200; its whole process group
    stopped on exit. Its output goes to `log`, shown if it does not come up."""
    with open(log, "w", encoding="utf-8") as output:
        process = subprocess.Popen(
            command, env=os.environ | env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            _wait_until_healthy(process, health_url)
        except AssertionError as error:
            _stop(process)
            pytest.fail(f"{' '.join(command)}: {error}\n{log.read_text(encoding='utf-8')}")
        try:
            yield
        finally:
            _stop(process)


def _wait_until_healthy(process: subprocess.Popen, health_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}"
        try:
            if httpx.get(health_url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.2)
    raise AssertionError(f"no answer on {health_url} within {START_TIMEOUT_S} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
