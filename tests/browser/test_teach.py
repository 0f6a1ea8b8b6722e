"""Browser tests: an instructor authors an exercise; a TA grades a free response.

Debian's Chromium driven by Playwright against a live server. Screenshots go to
tests/browser/artifacts/ (git-ignored) for a person to look at.
"""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from courses.grading import kernels
from courses.grading.validation import validation_run
from courses.models import Exercise, ManualGrade
from tests.support.browser import WAIT_MS, shot
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import UserFactory
from tests.support.world import World, make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page_as(browser: Browser, live_server, user, language: str = "en") -> Page:
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    domain = live_server.url.split("//")[1].split(":")[0]
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies["sessionid"].value,
                "domain": domain,
                "path": "/",
            },
            {
                "name": settings.LANGUAGE_COOKIE_NAME,
                "value": language,
                "domain": domain,
                "path": "/",
            },
        ]
    )
    return context.new_page()


def _course_url(live_server, w: World) -> str:
    return f"{live_server.url}/courses/teach/{w.course.organization.slug}/{w.course.slug}/"


def test_an_instructor_authors_a_lesson_and_an_exercise(
    browser: Browser, live_server, tmp_path: Path
) -> None:
    w = make_world()
    page = _page_as(browser, live_server, w.instructor)
    page.goto(_course_url(live_server, w))
    # a lesson with a live Markdown preview
    page.get_by_role("link", name="Add a lesson").click()
    # teach.js marks the form once its preview listens: typing before that is not previewed.
    expect(page.locator("form[data-preview='on']")).to_have_count(1)
    page.get_by_label("Title").fill("Vectors")
    page.get_by_label("Lesson text (Markdown)").fill("Some **bold** maths: $a^2 + b^2$")
    expect(page.locator("#markdown-preview strong")).to_have_text("bold")
    expect(page.locator("#markdown-preview .katex")).to_have_count(1)
    shot(page, "teach-lesson-editor")
    page.get_by_role("button", name="Save the lesson").click()
    # reorder by keyboard: the new lesson moves up, focus stays on it
    page.goto(_course_url(live_server, w))
    items = page.locator("ol.sortable > li[data-key]")
    expect(items).to_have_count(3)
    # The title is a visually hidden span: Chromium names the button "Move up : Vectors".
    page.get_by_role("button", name="Move up : Vectors").focus()
    page.keyboard.press("Enter")
    expect(items.nth(1)).to_contain_text("Vectors")
    expect(page.get_by_role("button", name="Move up : Vectors")).to_be_focused()
    # reorder by drag: the lesson "Welcome" goes last
    box = items.nth(2).bounding_box()
    assert box is not None
    items.nth(0).drag_to(items.nth(2), target_position={"x": 10, "y": box["height"] - 4})
    expect(page.locator("#order-status")).to_have_text("Order saved.")
    page.reload()
    expect(items.nth(2)).to_contain_text("Welcome")
    # upload an exercise notebook
    notebook = tmp_path / "add.ipynb"
    notebook.write_text(json.dumps(as_json(add_exercise())))
    page.get_by_role("link", name="Upload an exercise").click()
    page.get_by_label("Title").fill("Add two numbers")
    page.get_by_label("Instructor notebook (.ipynb)").set_input_files(str(notebook))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add two numbers")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("status").first).to_contain_text("Validation")
    # the worker's side, run here (a real sandboxed kernel grades both versions)
    try:
        validation_run(
            exercise_id=Exercise.objects.get(title="Add two numbers").pk,
            requested_by_id=w.instructor.pk,
        )
    finally:
        kernels.close_pool()
    page.reload()
    expect(page.locator("#validation")).to_contain_text("Valid: the reference solution")
    # what a learner can answer on the page, then each version's tests
    expect(page.locator("#validation table")).to_have_count(3)
    for caption in ("Reference solution", "Student version"):
        expect(page.locator("#validation caption", has_text=caption)).to_have_count(1)
    shot(page, "teach-exercise-validated")
    page.goto(_course_url(live_server, w))
    shot(page, "teach-course-outline")


def test_a_ta_grades_a_free_response_from_the_gradebook(browser: Browser, live_server) -> None:
    w = make_world()
    page = _page_as(browser, live_server, w.ta)
    page.goto(_course_url(live_server, w) + "gradebook/")
    expect(page.locator("table.gradebook")).to_contain_text(w.student.email)
    shot(page, "teach-gradebook")
    page.locator("table.gradebook td a").first.click()
    expect(page.locator("#score")).to_contain_text("3")
    page.get_by_role("spinbutton", name="Points").fill("1.5")
    page.get_by_role("textbox", name="Comment").fill("Clear, but say why it works.")
    page.get_by_role("button", name="Save the grade").click()
    expect(page.locator("#score")).to_contain_text("4.5")
    expect(page.locator(".messages")).to_contain_text("Grade saved.")
    shot(page, "teach-submission-graded")
    assert ManualGrade.objects.get().comment == "Clear, but say why it works."
    page.goto(_course_url(live_server, w) + "analytics/")
    expect(page.locator("svg.chart-svg")).to_have_count(3)
    shot(page, "teach-analytics")


def test_the_teaching_pages_speak_french(browser: Browser, live_server) -> None:
    w = make_world()
    page = _page_as(browser, live_server, w.instructor, language="fr")
    page.goto(_course_url(live_server, w))
    expect(page.get_by_role("button", name="Ajouter un module")).to_be_visible()
    shot(page, "teach-course-outline-fr")


def test_platform_staff_see_the_operations_page(browser: Browser, live_server) -> None:
    make_world()
    page = _page_as(browser, live_server, UserFactory(is_superuser=True, is_staff=True))
    page.goto(f"{live_server.url}/courses/teach/operations/")
    expect(page.get_by_role("heading", name="Queue depth")).to_be_visible()
    expect(page.get_by_role("heading", name="Grading latency (last hour)")).to_be_visible()
    shot(page, "teach-operations")
