"""What a learner's page says when the class fills the server, in a real browser against a
real interactive worker: a second exercise's kernel closes the learner's least recently used
one (with a message on that page), a full worker puts the next learner in line ("you are
number 1 in line, about N s") and runs their cells when a kernel is free, and an idle
kernel warns its page before it is stopped.

The worker holds at most 2 sessions, 1 per learner; the idle warning comes from the
culler (the beat task, called here) with an hour-long warning period, so that a session
idle for any time under an hour is warned: nothing waits on the clock."""

import re
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from campus.models import User
from courses.demo.services import DEMO_COURSE_SLUG, DEMO_EXERCISE_SLUG
from courses.learn import sessions
from courses.models import Enrollment, Exercise
from tests.browser.server import web_server
from tests.support.browser import WAIT_MS, shot
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
]

KERNEL_MS = 300_000  # a failure bound: a run may start a sandboxed kernel
RUNNABLE = "li.cell:has(.run-cell)"


@pytest.fixture
def live_class() -> Iterator[str]:
    call_command("seed_demo", password="browser-test-password")
    env = {"INTERACTIVE_MAX_SESSIONS": "2", "INTERACTIVE_SESSIONS_PER_LEARNER": "1",
           "INTERACTIVE_POOL_SIZE": "1", "INTERACTIVE_POOL_BURST": "0"}  # fmt: skip
    with celery_worker(
        queues="default,grading,interactive", pool="threads", env=env
    ), web_server(env) as url:  # fmt: skip
        yield url


def _learner(email: str) -> User:
    student = Enrollment.objects.select_related("cohort").get(
        user__email="student@demo.edu", cohort__course__slug=DEMO_COURSE_SLUG
    )
    if email == "student@demo.edu":
        return student.user
    user = User.objects.create_user(email=email, password=None)
    Enrollment.objects.create(user=user, cohort=student.cohort)
    return user


def _context(browser: Browser, url: str, user: User) -> BrowserContext:
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}]
    )
    return context


def _path(exercise: Exercise) -> str:
    course = exercise.module.course
    return f"/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/"


def _open(context: BrowserContext, url: str, exercise: Exercise) -> Page:
    page = context.new_page()
    page.goto(url + _path(exercise))
    expect(page.locator("#kernel-status")).to_have_attribute("data-state", "none")
    return page


def _run_first_cell(page: Page) -> None:
    page.locator(RUNNABLE).first.locator(".run-cell").click()


def _status(page: Page):
    return page.locator("#kernel-status")


def test_eviction_waiting_line_and_idle_warning_are_shown(live_class, browser) -> None:
    url = live_class
    a, b, c = (_learner(e) for e in ("student@demo.edu", "b@class.edu", "c@class.edu"))
    exercises = Exercise.objects.select_related("module__course__organization")
    demo = exercises.get(slug=DEMO_EXERCISE_SLUG, module__course__slug=DEMO_COURSE_SLUG)
    courses = Enrollment.objects.filter(user=a).values_list("cohort__course_id", flat=True)
    other = exercises.filter(module__course_id__in=courses).exclude(pk=demo.pk).first()
    assert other is not None
    contexts = [_context(browser, url, user) for user in (a, b, c)]
    try:
        # given learner A with a kernel in the demo exercise
        a_first = _open(contexts[0], url, demo)
        _run_first_cell(a_first)
        expect(_status(a_first)).to_have_attribute("data-state", "ready", timeout=KERNEL_MS)
        # when A runs a cell in another exercise (1 live kernel per learner)
        a_second = _open(contexts[0], url, other)
        _run_first_cell(a_second)
        # then the first page says its kernel was closed, and why
        expect(_status(a_first)).to_have_attribute("data-state", "evicted", timeout=KERNEL_MS)
        expect(_status(a_first)).to_contain_text("at most 1 live kernel per learner")
        expect(_status(a_first)).to_contain_text("Your draft is kept")
        shot(a_first, "class-01-least-recent-kernel-closed")
        expect(_status(a_second)).to_have_attribute("data-state", "ready", timeout=KERNEL_MS)

        # given B holding the worker's second kernel
        b_page = _open(contexts[1], url, demo)
        _run_first_cell(b_page)
        expect(_status(b_page)).to_have_attribute("data-state", "ready", timeout=KERNEL_MS)
        # when C runs a cell on the full worker: C waits in line, told where
        c_page = _open(contexts[2], url, demo)
        _run_first_cell(c_page)
        expect(_status(c_page)).to_have_attribute("data-state", "queued", timeout=KERNEL_MS)
        expect(_status(c_page)).to_contain_text("you are number 1 in line, about")
        expect(c_page.locator(RUNNABLE).first).to_have_attribute("data-state", "queued")
        shot(c_page, "class-02-waiting-in-line")
        # and when B restarts (a kernel is free), C's cell runs
        b_page.get_by_role("button", name="Restart kernel").click()
        expect(c_page.locator(RUNNABLE).first).to_have_attribute(
            "data-state", "done", timeout=KERNEL_MS
        )
        expect(_status(c_page)).to_have_attribute("data-state", "ready")

        # when the culler looks, warning an hour ahead (so C's kernel is in its last hour)
        sessions.sessions_cull_idle(idle_s=3600, warn_s=3600)
        # then C's page warns, and says the draft is kept
        expect(_status(c_page)).to_have_attribute("data-state", "idle_warning")
        expect(_status(c_page)).to_have_text(re.compile(r"will stop in about \d+ min"))
        expect(_status(c_page)).to_contain_text("Your draft is kept")
        shot(c_page, "class-03-idle-warning")
    finally:
        for context in contexts:
            context.close()
