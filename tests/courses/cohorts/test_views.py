import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campus.models import AuditAction, AuditLog, Role
from courses.models import Cohort, CohortQuota, Enrollment, EnrollmentRole
from tests.support.factories import (
    CohortFactory,
    CourseFactory,
    EnrollmentFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def course():
    return CourseFactory()


@pytest.fixture
def instructor(course):
    return EnrollmentFactory(cohort__course=course, role=EnrollmentRole.INSTRUCTOR).user


def _base(course) -> str:
    return f"/courses/{course.organization.slug}/{course.slug}/cohorts/"


FORM = {
    "name": "Autumn",
    "starts_on": "2027-09-01",
    "ends_on": "2027-12-20",
    "time_zone": "America/Montreal",
    "capacity": "25",
    "cpu_seconds_per_day": "900",
    "model_tokens_per_day": "",
}


def test_an_instructor_creates_a_cohort_from_the_form(client, course, instructor) -> None:
    client.force_login(instructor)
    form_page = client.get(_base(course) + "new/")
    assert form_page.status_code == 200
    assert '<option value="Europe/Paris">' in form_page.text
    response = client.post(_base(course) + "new/", FORM)
    assert response.status_code == 302
    cohort = Cohort.objects.get(name="Autumn")
    assert (cohort.course, cohort.time_zone, cohort.capacity) == (course, "America/Montreal", 25)
    assert CohortQuota.objects.get(cohort=cohort).cpu_seconds_per_day == 900


def test_the_form_rejects_an_unknown_time_zone_and_an_end_before_the_start(
    client, course, instructor
) -> None:
    client.force_login(instructor)
    bad = {**FORM, "time_zone": "Mars/Olympus", "ends_on": "2027-08-01"}
    page = client.post(_base(course) + "new/", bad)
    assert page.status_code == 200
    assert "Select a valid choice" in page.text
    assert "The cohort cannot end before it starts." in page.text
    assert not Cohort.objects.filter(name="Autumn").exists()


def test_the_university_admin_edits_a_cohort_and_sees_its_invite_link(client, course) -> None:
    cohort = CohortFactory(course=course, name="Old name")
    admin = MembershipFactory(organization=course.organization, role=Role.ORG_ADMIN).user
    client.force_login(admin)
    page = client.get(f"{_base(course)}{cohort.pk}/")
    assert f"http://testserver/join/{cohort.enrollment_code}/" in page.text
    response = client.post(f"{_base(course)}{cohort.pk}/", {**FORM, "name": "New name"})
    assert response.status_code == 302
    assert Cohort.objects.get(pk=cohort.pk).name == "New name"
    assert AuditLog.objects.filter(action=AuditAction.COHORT_CHANGED, actor=admin).exists()


def test_regenerating_the_code_is_a_post_that_changes_the_link(client, course, instructor) -> None:
    cohort = CohortFactory(course=course)
    client.force_login(instructor)
    url = f"{_base(course)}{cohort.pk}/code/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert Cohort.objects.get(pk=cohort.pk).enrollment_code != cohort.enrollment_code


def _list_queries(client, course) -> int:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(_base(course))
        assert page.status_code == 200
    return len(queries)


def test_the_cohort_list_runs_the_same_queries_for_2_or_12_cohorts(
    client, course, instructor
) -> None:
    client.force_login(instructor)
    CohortQuota.objects.create(cohort=CohortFactory(course=course), cpu_seconds_per_day=5)
    few = _list_queries(client, course)
    for _ in range(10):
        cohort = CohortFactory(course=course, capacity=50)
        CohortQuota.objects.create(cohort=cohort, model_tokens_per_day=100)
        EnrollmentFactory.create_batch(3, cohort=cohort)
    assert _list_queries(client, course) == few


def test_the_cohort_list_counts_learners_and_staff(client, course, instructor) -> None:
    cohort = Enrollment.objects.get(user=instructor).cohort
    cohort.capacity = 10
    cohort.save(update_fields=["capacity"])
    EnrollmentFactory.create_batch(3, cohort=cohort)
    client.force_login(instructor)
    page = client.get(_base(course))
    assert "3 of 10" in page.text


def test_the_university_courses_page_lists_its_courses_with_cohort_counts(client, course) -> None:
    CohortFactory.create_batch(2, course=course)
    admin = MembershipFactory(organization=course.organization, role=Role.ORG_ADMIN).user
    client.force_login(admin)
    page = client.get(f"/universities/{course.organization.slug}/courses/")
    assert course.title in page.text
    assert "2 cohorts" in page.text


def test_the_invite_link_asks_anonymous_visitors_to_log_in_first(client) -> None:
    cohort = CohortFactory()
    response = client.get(f"/join/{cohort.enrollment_code}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/join/")


def test_the_invite_link_enrolls_a_logged_in_person_as_a_student(client) -> None:
    cohort = CohortFactory()
    learner = UserFactory()
    client.force_login(learner)
    page = client.get(f"/join/{cohort.enrollment_code}/")
    assert cohort.course.title in page.text
    assert "Join as a learner" in page.text
    response = client.post(f"/join/{cohort.enrollment_code}/")
    outline = f"/courses/{cohort.course.organization.slug}/{cohort.course.slug}/"
    assert response["Location"] == outline
    assert Enrollment.objects.get(user=learner).role == EnrollmentRole.STUDENT
    assert "Welcome to" in client.get(outline).text


def test_following_the_invite_link_again_says_you_are_already_enrolled(client) -> None:
    enrollment = EnrollmentFactory()
    client.force_login(enrollment.user)
    code = enrollment.cohort.enrollment_code
    assert "already enrolled" in client.get(f"/join/{code}/").text
    page = client.post(f"/join/{code}/", follow=True)
    assert "You are already enrolled in this course." in page.text
    assert Enrollment.objects.filter(user=enrollment.user).count() == 1


def test_a_full_cohort_says_so_and_enrolls_nobody(client) -> None:
    cohort = CohortFactory(capacity=1)
    EnrollmentFactory(cohort=cohort)
    client.force_login(UserFactory())
    page = client.get(f"/join/{cohort.enrollment_code}/")
    assert "This cohort is full (1 learner)" in page.text
    assert "Join as a learner" not in page.text
    refused = client.post(f"/join/{cohort.enrollment_code}/")
    assert refused.status_code == 409
    assert "This cohort is full" in refused.text
    assert Enrollment.objects.filter(cohort=cohort).count() == 1


def test_an_unknown_code_is_not_found_and_says_so_in_the_site_layout(client) -> None:
    client.force_login(UserFactory())
    assert client.post("/join/not-a-code/").status_code == 404
    page = client.get("/join/not-a-code/")
    assert page.status_code == 404
    assert "This invite link is not valid" in page.text
    assert "Go to my courses" in page.text
    assert 'class="site-header"' in page.text


def test_a_replaced_invite_link_says_it_was_replaced_and_whom_to_ask(client, course) -> None:
    # given a cohort whose instructor made a new link
    cohort = CohortFactory(course=course, name="Spring")
    instructor = EnrollmentFactory(
        cohort=cohort, role=EnrollmentRole.INSTRUCTOR, user__name="Ada Lovelace"
    ).user
    old_code = cohort.enrollment_code
    client.force_login(instructor)
    client.post(f"{_base(course)}{cohort.pk}/code/")
    # when a learner follows the old link
    learner = UserFactory()
    client.force_login(learner)
    page = client.get(f"/join/{old_code}/")
    refused = client.post(f"/join/{old_code}/")
    # then they learn it was replaced, for which course, and whom to ask; nothing changes
    assert page.status_code == refused.status_code == 404
    assert "This invite link was replaced" in page.text
    assert course.title in page.text and "Spring" in page.text
    assert "Ada Lovelace" in page.text and instructor.email in page.text
    assert not Enrollment.objects.filter(user=learner).exists()


def test_the_invite_link_pages_speak_french(client) -> None:
    client.force_login(UserFactory())
    page = client.get("/join/not-a-code/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Ce lien d’invitation n’est pas valide" in page.text  # noqa: RUF001


def test_uploading_a_csv_shows_the_per_row_report(client, course, instructor) -> None:
    cohort = CohortFactory(course=course)
    client.force_login(instructor)
    url = f"{_base(course)}{cohort.pk}/enroll/"
    assert 'type="file"' in client.get(url).text
    upload = SimpleUploadedFile("people.csv", b"email,name\nada@example.org,Ada\n", "text/csv")
    page = client.post(url, {"file": upload})
    assert page.status_code == 200
    assert "The file was applied." in page.text
    assert "New account created and enrolled" in page.text
    assert Enrollment.objects.filter(cohort=cohort, user__email="ada@example.org").exists()


def test_a_bad_csv_is_reported_with_its_line_and_nothing_is_enrolled(
    client, course, instructor
) -> None:
    cohort = CohortFactory(course=course)
    client.force_login(instructor)
    upload = SimpleUploadedFile("people.csv", b"email\nada@example.org\nnope\n", "text/csv")
    page = client.post(f"{_base(course)}{cohort.pk}/enroll/", {"file": upload})
    assert page.status_code == 422
    assert "Nothing was applied" in page.text
    assert "“nope” is not a valid email address." in page.text
    # the good line says what it would do, not what was done
    assert "Valid: a new account would be created and enrolled" in page.text
    assert "New account created and enrolled" not in page.text
    assert not Enrollment.objects.filter(cohort=cohort).exists()
