"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright's
sync API against pytest-django's live server. Playwright never downloads a browser here."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("QUORUM_SKIP_BROWSER") == "1":
            pytest.skip("QUORUM_SKIP_BROWSER=1 and /usr/bin/chromium is not installed")
        pytest.fail(
            "browser tests need Debian's Chromium at /usr/bin/chromium: run "
            "`apt-get install -y chromium` (or set QUORUM_SKIP_BROWSER=1 to skip them)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread, so Django would refuse
    # the ORM calls that tests and fixture teardown make here, though nothing runs concurrently.
    # The package scope ends both before any other test runs.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
            )
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) per test, with relative URLs on the live server."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def data_dir(settings, tmp_path):
    """The demo's credential and ground-truth files go to a temporary folder, not ./data."""
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR
