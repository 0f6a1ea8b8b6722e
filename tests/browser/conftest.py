"""Browser tests: Debian's Chromium driven by Playwright, against a real uvicorn server and
a real Celery worker. Screenshots go to tests/browser/artifacts/ (git-ignored)."""

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from courses.grading.views import submissions as submission_views
from courses.learn import views as learn_views
from tests.browser.server import web_server
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from tests.support.worker import celery_worker


@pytest.fixture(autouse=True)
def _short_event_streams_under_wsgi(request, monkeypatch) -> None:
    """pytest-django's live_server is WSGI, where Django reads an event stream whole before
    sending it: there a stream must end soon, or its thread outlives the tests and holds the
    process's exit for up to EVENTS_MAX_S. (The uvicorn server, live_url, streams for real.)"""
    if "live_server" in request.fixturenames:
        monkeypatch.setattr(learn_views, "EVENTS_MAX_S", 1)
        monkeypatch.setattr(submission_views, "EVENTS_MAX_S", 1)


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in this thread, so Django takes
    every ORM call here (seeding, the test database's flush) for one made from async
    code. They are plain synchronous calls: allow them, for these tests only."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def live_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    # One threads worker for every queue: it can hold interactive sessions (see
    # courses.learn.sessions) and grade; one worker name, so one worker-direct queue.
    with django_db_blocker.unblock(), celery_worker(
        queues="default,grading,interactive", pool="threads"
    ), web_server() as url:  # fmt: skip
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    # Anything the site-wide Content-Security-Policy blocks is a bug in a page: inline
    # script or style, an outside asset.
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    # An uncaught error in a page's script is a bug too.
    page.on("pageerror", lambda error: violations.append(f"uncaught: {error}"))
    yield page
    context.close()
    assert not violations, violations
