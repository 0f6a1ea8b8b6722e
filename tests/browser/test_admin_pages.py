"""The admin pages in a real browser (Debian's Chromium): keyboard only, as a person who does
not use a mouse would. Screenshots land in tests/browser/artifacts/."""

import pytest
from playwright.sync_api import expect

from campus.models import AuditLog, Membership, Role
from courses.models import EnrollmentRole
from tests.support.browser import shot
from tests.support.factories import PASSWORD, CohortFactory, EnrollmentFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=login]").fill(email)  # the page also has a university search
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/courses/")


def test_an_admin_changes_a_role_with_the_keyboard_only(page, live_server) -> None:
    # given a university admin and a student
    admin = MembershipFactory(role=Role.ORG_ADMIN, user__name="Ada Admin")
    student = MembershipFactory(
        organization=admin.organization, user__name="Sam Student", user__email="sam@example.org"
    )
    _log_in(page, live_server, admin.user.email)
    page.goto(f"{live_server.url}/universities/{admin.organization.slug}/members/")
    # when they reach Sam's role by its label, pick another role and save, all by keyboard
    select = page.get_by_label("Role of sam@example.org", exact=True)
    select.focus()
    select.select_option("ta")  # what arrow keys do on a focused native select
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "Save the role of sam@example.org"
    page.keyboard.press("Enter")
    # then the page says so (waiting for the answer page), the role is saved and logged
    expect(page.locator("main")).to_contain_text("sam@example.org is now: Teaching assistant.")
    assert Membership.objects.get(pk=student.pk).role == Role.TA
    assert AuditLog.objects.filter(target_user=student.user).exists()
    shot(page, "members")


def test_an_instructor_sees_the_csv_report_and_the_cohort_form(page, live_server, tmp_path) -> None:
    cohort = CohortFactory(name="Spring", capacity=30)
    instructor = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.INSTRUCTOR).user
    course = cohort.course
    base = f"{live_server.url}/courses/{course.organization.slug}/{course.slug}/cohorts/"
    _log_in(page, live_server, instructor.email)
    csv = tmp_path / "people.csv"
    csv.write_text("email,name,role\nada@example.org,Ada,student\nnot-an-email,Bob,student\n")
    page.goto(f"{base}{cohort.pk}/enroll/")
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Check and enroll").click()
    expect(page.locator("main")).to_contain_text("Nothing was applied")
    shot(page, "csv_report")
    page.goto(f"{base}{cohort.pk}/")
    assert (
        page.get_by_label("Link to share")
        .input_value()
        .endswith(f"/join/{cohort.enrollment_code}/")
    )
    shot(page, "cohort_form")
    page.goto(base)
    shot(page, "cohort_list")
    page.goto(f"{base}{cohort.pk}/people/")
    shot(page, "people")


def test_a_learner_joins_a_cohort_from_the_invite_link(page, live_server) -> None:
    cohort = CohortFactory(name="Spring", capacity=30)
    learner = MembershipFactory().user
    _log_in(page, live_server, learner.email)
    page.goto(f"{live_server.url}/join/{cohort.enrollment_code}/")
    shot(page, "join")
    page.get_by_role("button", name="Join as a learner").press("Enter")
    page.wait_for_url(f"{live_server.url}/courses/{cohort.course.organization.slug}/**")
    expect(page.locator("main")).to_contain_text(f"Welcome to {cohort.course.title}!")
    assert cohort.enrollments.filter(user=learner, role=EnrollmentRole.STUDENT).exists()
