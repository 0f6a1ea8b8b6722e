"""A course's packages on its page, in a real browser: the build's progress and pip's
refusal appear while the instructor watches (polled by static/js/environment.js)."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from courses.models import CourseEnvironment, EnrollmentRole, EnvironmentStatus
from tests.support.browser import shot
from tests.support.factories import PASSWORD, EnrollmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_instructor_watches_the_build_and_reads_pips_refusal(page, live_server) -> None:
    # given a course whose pinned packages are building
    instructor = EnrollmentFactory(role=EnrollmentRole.INSTRUCTOR)
    course = instructor.cohort.course
    environment = CourseEnvironment.objects.create(
        digest="0" * 64,
        requirements="ost-hello==9.9",
        status=EnvironmentStatus.BUILDING,
        progress="resolving 1 pinned packages with the kernel runtime's\n",
        requested_at=timezone.now(),
    )
    course.requirements, course.environment = "ost-hello==9.9", environment
    course.save(update_fields=["requirements", "environment"])
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=login]").fill(instructor.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/courses/")
    page.goto(f"{live_server.url}/courses/teach/{course.organization.slug}/{course.slug}/")
    status = page.locator("#environment-status")
    expect(status.get_by_role("status")).to_have_text("Building")
    expect(page.get_by_label("Extra packages")).to_have_value("ost-hello==9.9")

    # when the resolver refuses the set
    message = "ERROR: No matching distribution found for ost-hello==9.9"
    CourseEnvironment.objects.filter(pk=environment.pk).update(
        status=EnvironmentStatus.REFUSED, message=message
    )

    # then the page shows it without a reload
    expect(status.get_by_role("status")).to_have_text("Refused by the package resolver")
    expect(status.locator(".environment-message")).to_have_text(message)
    shot(page, "course-environment-refused")
