"""Debian's Chromium for Playwright, how long a browser test may wait, and screenshots for
a person to look at (tests/browser/artifacts/, git-ignored)."""

from pathlib import Path

from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "browser" / "artifacts"
# Playwright waits for what a test expects; these only bound a failing test. Its defaults
# (5 s for an expectation) are within reach of a busy 2-core machine.
WAIT_MS = 120_000
expect.set_options(timeout=WAIT_MS)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
