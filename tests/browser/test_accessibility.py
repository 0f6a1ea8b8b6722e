"""Every page, as each kind of person reaches it, checked by axe-core (vendored in
tests/browser/vendor, injected into the page, never served): no serious or critical
violation of WCAG 2.1 AA or of axe's best practices."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext

from campus.models import User
from courses.models import Course
from tests.support.browser import WAIT_MS
from tests.support.factories import UserFactory
from tests.support.gateway import minilm_card
from tests.support.world import World, logged_in, make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"

# The serious and critical violations, one line per rule and page. Off by default in axe
# (experimental) and on here: a control's name must contain the words it shows.
AXE_RUN = """async () => {
  const found = await axe.run(document, {
    resultTypes: ["violations"],
    rules: {"label-content-name-mismatch": {enabled: true}},
  });
  return found.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.help} at ` +
      v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def _pages(w: World, kind: str) -> list[str]:
    """What `kind` of person reaches, in the order they would."""
    org, course = w.course.organization.slug, w.course.slug
    learn, teach = f"/courses/{org}/{course}/", f"/courses/teach/{org}/{course}/"
    cohorts = f"/courses/{org}/{course}/cohorts/"
    exercise = f"{teach}exercises/{w.exercise.pk}/"
    return {
        "anonymous": [
            "/accounts/login/",
            "/accounts/signup/",
            "/accounts/password/reset/",
            "/accounts/university/",
            "/join/no-such-code/",
            "/no-such-page/",
        ],
        "student": [
            "/courses/",
            learn,
            f"{learn}lessons/{w.lesson.slug}/",
            f"{learn}exercises/{w.exercise.slug}/",
            f"/courses/submissions/{w.submission.pk}/feedback",
            f"/join/{w.cohort.enrollment_code}/",
            "/models/",
            "/models/all-MiniLM-L6-v2/",
            teach,  # 403
        ],
        "instructor": [
            "/courses/teach/",
            teach,
            f"{teach}lessons/{w.lesson.pk}/",
            f"{teach}modules/{w.module.pk}/lessons/new",
            f"{teach}modules/{w.module.pk}/exercises/new",
            exercise,
            f"{exercise}preview",
            f"{teach}preview/",
            "/courses/teach/import",
            f"{teach}gradebook/",
            f"{teach}analytics/",
            f"{teach}submissions/{w.submission.pk}/",
            cohorts,
            f"{cohorts}{w.cohort.pk}/",
            f"{cohorts}{w.cohort.pk}/enroll/",
            f"{cohorts}{w.cohort.pk}/people/",
            f"/lti/teach/{org}/{course}/scores/",
        ],
        "ta": [f"{teach}gradebook/", f"{teach}submissions/{w.submission.pk}/"],
        "university admin": [
            "/universities/",
            f"/universities/{org}/members/",
            f"/universities/{org}/audit/",
            f"/universities/{org}/sign-in/",
            f"/universities/{org}/lti/",
            f"/universities/{org}/courses/",
        ],
        "superuser": ["/courses/teach/operations/", "/models/", "/universities/"],
    }[kind]


def _person(w: World, kind: str) -> User | None:
    if kind == "superuser":
        return UserFactory.create(is_superuser=True, is_staff=True)
    people = {"student": w.student, "instructor": w.instructor, "ta": w.ta}
    return people.get(kind, w.org_admin if kind == "university admin" else None)


def _context(browser: Browser, live_server, user: User | None) -> BrowserContext:
    # axe goes in as an inline script, which the site's CSP rightly refuses (the other
    # browser tests check the CSP).
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(WAIT_MS)
    if user is not None:
        host = live_server.url.split("//")[1].split(":")[0]
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": logged_in(user).cookies[settings.SESSION_COOKIE_NAME].value,
                    "domain": host,
                    "path": "/",
                }
            ]
        )
    return context


@pytest.mark.parametrize(
    "kind", ["anonymous", "student", "instructor", "ta", "university admin", "superuser"]
)
def test_every_page_passes_an_automated_accessibility_scan(
    browser: Browser, live_server, kind: str
) -> None:
    # given a course with every kind of person around it, and a model to use
    w = make_world()
    Course.objects.filter(pk=w.course.pk).update(published=True)
    minilm_card()
    context = _context(browser, live_server, _person(w, kind))
    page = context.new_page()
    found: list[str] = []
    try:
        for path in _pages(w, kind):
            # when the person opens each page they reach, and its scripts have run
            page.goto(live_server.url + path, wait_until="load")
            page.add_script_tag(path=str(AXE))
            # then axe finds nothing serious
            found += [f"{path}: {line}" for line in page.evaluate(AXE_RUN)]
    finally:
        context.close()
    assert not found, "\n".join(found)


def test_the_scan_finds_what_it_must(browser: Browser) -> None:
    # A button whose name hides its words, an image without text, a page without language.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.set_content(
            "<html><body><main><h1>Canary</h1><img src='data:,'>"
            "<button aria-label='Delete the course'>Move up</button></main></body></html>"
        )
        page.add_script_tag(path=str(AXE))
        found = {line.split(" ")[0] for line in page.evaluate(AXE_RUN)}
    finally:
        context.close()
    assert found == {"image-alt", "html-has-lang", "document-title", "label-content-name-mismatch"}
