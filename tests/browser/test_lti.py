"""An LTI launch inside the LMS's iframe, in a real browser: the emulated LMS (on
127.0.0.1) frames the tool (on localhost, another site), and the learner lands on the
exercise, signed in, inside the frame."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from courses.exercises.services import exercise_create
from tests.lti.conftest import register
from tests.support.browser import shot
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
