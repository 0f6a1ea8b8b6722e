"""An LTI launch inside the LMS's iframe, in a real browser: the emulated LMS (on
127.0.0.1) frames the tool (on localhost, another site), and the learner lands on the
exercise, signed in, inside the frame. Then the same where the browser keeps no cookie of
the tool at all: the launch completes through the LMS's storage (LTI Platform Storage)."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from courses.exercises.services import exercise_create
from tests.lti.conftest import register
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, shot
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import CourseFactory, ModuleFactory
from tests.support.lti_platform import LEARNER, Platform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lms() -> Iterator[Platform]:
    platform = Platform().start()
    yield platform
    platform.stop()


def test_a_learner_launched_in_the_lms_iframe_lands_on_the_exercise(page, live_server, lms) -> None:
    # given: a university's course, registered with the LMS, and the LMS told where we are
    tool = live_server.url.replace("127.0.0.1", "localhost")
    course = CourseFactory(title="Physics with notebooks")
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add two numbers",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    register(lms, course.organization)
    lms.tool_login_url = tool + "/lti/login/"
    lms.tool_redirect_uris = [tool + "/lti/launch/"]
    target = f"{tool}/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/"
    hint = lms.prepare_launch(
        user_id="learner-1", context_id="ctx-1", roles=LEARNER, target_link_uri=target
    )["lti_message_hint"]
    # when: the learner opens the LMS course page that frames the tool's link
    page.goto(f"{lms.url}/course/{hint}")
    # then: the frame shows the exercise, for a signed-in learner
    frame = page.frame_locator("#tool")
    expect(frame.locator("h1")).to_contain_text("Add two numbers")
    expect(frame.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "lti_launch_in_iframe")


@pytest.fixture
def cookieless_page(browser: Browser) -> Iterator[Page]:
    """A browser that keeps no cookie of the tool inside the LMS's frame: the tool is served
    as http://tool.example (plain HTTP, and not localhost), where Chromium refuses Secure
    cookies, and in a frame every cookie of the tool must be Secure (SameSite=None)."""
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP tool.example 127.0.0.1"],
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    chromium.close()
    assert not violations, violations


def cookieless_launch(lms: Platform, live_server, settings) -> str:
    """The LMS course page that launches a learner into the tool, served on a host where
    the browser keeps none of its cookies in the frame."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "tool.example"]
    tool = "http://tool.example:" + live_server.url.rsplit(":", 1)[1]
    course = CourseFactory(title="Physics with notebooks")
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add two numbers",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    register(lms, course.organization)
    lms.tool_login_url = tool + "/lti/login/"
    lms.tool_redirect_uris = [tool + "/lti/launch/"]
    target = f"{tool}/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/"
    hint = lms.prepare_launch(
        user_id="learner-2", context_id="ctx-1", roles=LEARNER, target_link_uri=target
    )["lti_message_hint"]
    return f"{lms.url}/course/{hint}"


def storage_calls(page: Page) -> list[str]:
    """What the LMS's storage frame was asked, as `subject state|nonce`."""
    storage = page.frame(name="lti_storage_frame")
    assert storage is not None
    return [
        call.split(" ")[0] + " " + call.split(" ")[1].split("_")[1]
        for call in storage.evaluate("calls")
    ]


STORAGE_CALLS = [
    "lti.put_data state",
    "lti.put_data nonce",
    "lti.get_data state",
    "lti.get_data nonce",
]


def test_a_launch_whose_cookies_are_blocked_completes_through_the_lms_storage(
    cookieless_page, live_server, lms, settings
) -> None:
    # given: the tool on a host where the browser keeps none of its cookies in the frame
    course_page = cookieless_launch(lms, live_server, settings)
    page = cookieless_page
    # when
    page.goto(course_page)
    # then: the launch went through (the LMS's storage confirmed the login in this
    # browser); the session cannot hold in the frame, so a new window is offered
    frame = page.frame_locator("#tool")
    expect(frame.locator("#lti-continue-blocked")).to_be_visible()
    assert storage_calls(page) == STORAGE_CALLS
    shot(page, "lti_launch_without_cookies")
    # when: the learner opens the exercise in a window of its own
    with page.expect_popup() as opened:
        frame.get_by_role("link", name="Open in a new window").click()
    window = opened.value
    # then: signed in there, on the exercise
    expect(window.locator("h1")).to_contain_text("Add two numbers")
    expect(window.get_by_role("button", name="Log out")).to_be_visible()


def test_a_storage_message_the_lms_missed_is_sent_again(
    cookieless_page, live_server, lms, settings
) -> None:
    # given: an LMS whose storage frame misses the tool's first message, as one still
    # loading does when a busy browser runs the tool's page first
    course_page = cookieless_launch(lms, live_server, settings)
    lms.storage_misses = 1
    page = cookieless_page
    # when
    page.goto(course_page)
    # then: the tool sent it again, and the launch went through the LMS's storage
    expect(page.frame_locator("#tool").locator("#lti-continue-blocked")).to_be_visible()
    assert storage_calls(page) == STORAGE_CALLS
