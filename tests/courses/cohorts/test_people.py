import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campus.models import AuditAction, AuditLog
from courses.cohorts.quotas import QuotaKind, quota_record
from courses.cohorts.services import EnrollmentRefused, enrollment_remove, enrollment_set_role
from courses.models import CohortQuota, Enrollment, EnrollmentRole, Submission
from tests.support.factories import (
    CohortFactory,
    EnrollmentFactory,
    ExerciseFactory,
    ModuleFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort():
    return CohortFactory()


@pytest.fixture
def instructor(cohort):
    return EnrollmentFactory(cohort=cohort, role=EnrollmentRole.INSTRUCTOR).user


def _people(cohort) -> str:
    course = cohort.course
    return f"/courses/{course.organization.slug}/{course.slug}/cohorts/{cohort.pk}/people/"


def test_changing_a_cohort_role_is_saved_and_recorded(cohort, instructor) -> None:
    enrollment = EnrollmentFactory(cohort=cohort)
    enrollment_set_role(actor=instructor, enrollment=enrollment, role=EnrollmentRole.TA)
    assert Enrollment.objects.get(pk=enrollment.pk).role == EnrollmentRole.TA
    entry = AuditLog.objects.get()
    assert entry.action == AuditAction.ENROLLMENT_ROLE_CHANGED
    assert (entry.actor, entry.target_user) == (instructor, enrollment.user)
    assert entry.details["from"] == "student" and entry.details["to"] == "ta"
    assert entry.organization == cohort.course.organization
    with pytest.raises(EnrollmentRefused):
        enrollment_set_role(actor=instructor, enrollment=enrollment, role="dean")


def test_removing_someone_keeps_their_submissions_and_records_it(cohort, instructor) -> None:
    enrollment = EnrollmentFactory(cohort=cohort)
    exercise = ExerciseFactory(module=ModuleFactory(course=cohort.course))
    Submission.objects.create(learner=enrollment.user, exercise=exercise, cohort=cohort)
    enrollment_remove(actor=instructor, enrollment=enrollment)
    assert not Enrollment.objects.filter(pk=enrollment.pk).exists()
    assert Submission.objects.filter(learner=enrollment.user).count() == 1
    entry = AuditLog.objects.get()
    assert (entry.action, entry.details["role"]) == (AuditAction.ENROLLMENT_REMOVED, "student")


def test_the_people_page_lists_staff_first_and_searches(client, cohort, instructor) -> None:
    EnrollmentFactory(cohort=cohort, user__name="Zoe Learner")
    EnrollmentFactory(cohort=cohort, user__name="Alan Helper", role=EnrollmentRole.TA)
    EnrollmentFactory(user__name="Elsewhere Person")
    client.force_login(instructor)
    page = client.get(_people(cohort)).text
    assert page.index(instructor.email) < page.index("Alan Helper") < page.index("Zoe Learner")
    assert "Elsewhere Person" not in page
    found = client.get(_people(cohort), {"q": "zoe"}).text
    assert "Zoe Learner" in found and "Alan Helper" not in found


def _page_queries(client, cohort) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(_people(cohort)).status_code == 200
    return len(queries)


def test_the_people_page_runs_the_same_queries_for_3_or_30_people(
    client, cohort, instructor
) -> None:
    client.force_login(instructor)
    EnrollmentFactory.create_batch(2, cohort=cohort)
    few = _page_queries(client, cohort)
    EnrollmentFactory.create_batch(27, cohort=cohort)
    assert _page_queries(client, cohort) == few


def test_role_and_removal_forms_post_and_return_to_the_list(client, cohort, instructor) -> None:
    learner = EnrollmentFactory(cohort=cohort)
    client.force_login(instructor)
    base = _people(cohort)
    response = client.post(f"{base}{learner.pk}/role/", {"role": "ta", "next": base + "?q=x"})
    assert response["Location"] == base + "?q=x"
    assert Enrollment.objects.get(pk=learner.pk).role == EnrollmentRole.TA
    response = client.post(f"{base}{learner.pk}/remove/", {"next": "https://evil.test/"})
    assert response["Location"] == base
    assert not Enrollment.objects.filter(pk=learner.pk).exists()
    assert client.get(f"{base}{learner.pk}/remove/").status_code == 405


def test_an_enrollment_of_another_cohort_cannot_be_reached_from_this_one(
    client, cohort, instructor
) -> None:
    other = EnrollmentFactory(cohort=CohortFactory(course=cohort.course))
    client.force_login(instructor)
    assert client.post(f"{_people(cohort)}{other.pk}/remove/").status_code == 404
    assert Enrollment.objects.filter(pk=other.pk).exists()


def test_the_people_page_shows_what_each_learner_used_today(client, cohort, instructor) -> None:
    CohortQuota.objects.create(cohort=cohort, cpu_seconds_per_day=600)
    busy = EnrollmentFactory(cohort=cohort, user__email="busy@example.org")
    quota_record(user=busy.user, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=123)
    quota_record(user=busy.user, cohort=cohort, kind=QuotaKind.MODEL_TOKENS, amount=4567)
    client.force_login(instructor)
    page = client.get(_people(cohort)).text
    row = page[page.index("busy@example.org") :]
    row = row[: row.index("</tr>")]
    assert "123 CPU-s / 600" in " ".join(row.split())
    assert "4567 tokens" in row
