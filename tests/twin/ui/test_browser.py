"""Each page of `evch ui` in headless Chromium, as a user opens it: the running app (conftest:
`evch ui` over the quickstart run and a live central system), the page's script run to its end,
its key elements shown, its plotly charts drawn, and no exception. A full-page screenshot of each
goes to the screenshots folder (see conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from central_system.tokens.settings_file import load_token_settings
from twin.tokenomics import TokenomicsParams
from twin.tokenomics.params_file import dump_params, load_params

SCRIPT_DONE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CHARTS_DRAWN = '[data-testid="stPlotlyChart"] .js-plotly-plot .svg-container'  # one per chart
RENDER_TIMEOUT_MS = 120_000  # the first visit imports the CSMS and replays the run


@dataclass(frozen=True)
class Expected:
    """What a page shows once rendered, over the quickstart run."""

    url_path: str  # below the app's URL; st.navigation derives it from the file name
    heading: str  # the page's st.title
    texts: tuple[str, ...] = ()  # key texts, each shown somewhere on the page
    charts: int | None = None  # plotly charts drawn; None: not checked (yet)


# The pages in the order of app.py's navigation. Each page's owner keeps its expectations.
PAGES = {
    "Tokenomics tuner": Expected(
        "",
        "Tokenomics tuner",
        texts=("At the end of the horizon", "Compare A with B", "Sweep (set A, full grid)"),
        charts=12,  # 11 fan charts and the unlock schedule
    ),
    "Run explorer": Expected(
        "run_explorer",
        "Run explorer",
        texts=("42 of 42", "Sessions (42)", "Charger states", "Token flows"),
        charts=5,
    ),
    "Replay report": Expected(
        "replay_report",
        "Replay report",
        texts=(
            "the frames, the CSMS and the ledger agree on every session",  # the green verdict
            "42 of 42",
            "Grid-limit compliance",
            "Sessions (42)",
        ),
        charts=5,
    ),
    "Ledger admin": Expected(
        "ledger_admin",
        "Ledger admin",
        texts=("Choose a source", "Live central system", "Run directory"),
        charts=0,  # none until a source is chosen
    ),
}


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(SCRIPT_DONE, timeout=RENDER_TIMEOUT_MS)


@pytest.mark.parametrize("title", list(PAGES))
def test_the_page_renders_in_chromium(title: str, ui_url: str, page: Page, screenshots: Path):
    expected = PAGES[title]
    open_page(page, f"{ui_url}/{expected.url_path}")
    try:
        expect(page.locator("h1").first).to_have_text(expected.heading)
        for text in expected.texts:
            expect(page.get_by_text(text).first).to_be_visible()
        if expected.charts is not None:
            expect(page.locator(CHARTS_DRAWN)).to_have_count(expected.charts, timeout=30_000)
    finally:  # a failing page is worth a look too
        _screenshot(page, screenshots / f"{expected.url_path or 'index'}.png")
    assert page.title() == title
    links = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert [link.splitlines()[-1] for link in links] == list(PAGES)
    shown = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert shown.count() == 0, shown.all_inner_texts()


def test_the_replay_report_downloads_the_report_and_its_pdf(ui_url: str, page: Page):
    open_page(page, f"{ui_url}/{PAGES['Replay report'].url_path}")
    with page.expect_download() as html:
        page.get_by_role("button", name="Download report.html").click()
    assert html.value.suggested_filename == "report.html"
    assert "<title>Replay audit: quickstart</title>" in Path(html.value.path()).read_text()
    with page.expect_download(timeout=RENDER_TIMEOUT_MS) as pdf:  # Chromium prints it
        page.get_by_role("button", name="Download report.pdf").click()
    assert Path(pdf.value.path()).read_bytes()[:5] == b"%PDF-"


def test_a_directory_typed_in_that_is_not_a_run_is_an_error_not_a_traceback(
    ui_url: str, page: Page, tmp_path: Path
):
    open_page(page, f"{ui_url}/{PAGES['Run explorer'].url_path}")
    page.get_by_role("textbox", name="…or a run directory").fill(str(tmp_path))
    page.keyboard.press("Enter")
    error = page.locator('[data-testid="stAlertContentError"]')
    expect(error).to_contain_text(f"{tmp_path} is not a run directory: it has no manifest.json")
    expect(page.locator(CHARTS_DRAWN)).to_have_count(0)
    assert page.locator('[data-testid="stException"]').count() == 0


def _screenshot(page: Page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the window is made as tall."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
    page.wait_for_timeout(500)  # plotly redraws at the new size
    page.screenshot(path=path, full_page=True)


def test_the_tuner_loads_a_parameters_file_and_exports_one(ui_url: str, page: Page, tmp_path: Path):
    params = TokenomicsParams().replace({"simulation.paths": 50, "peg.band": 0.08})
    upload = tmp_path / "tuned.toml"
    upload.write_text(dump_params(params), encoding="utf-8")
    open_page(page, ui_url)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(upload)
    expect(page.get_by_text("tuned.toml loaded into set A")).to_be_visible(timeout=60_000)
    page.wait_for_selector(SCRIPT_DONE, timeout=RENDER_TIMEOUT_MS)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download set A (TOML)").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert load_params(exported) == params
    settings, _ = load_token_settings(exported)
    assert settings.rates.mint_rate_raw_per_kwh == 1_000_000
