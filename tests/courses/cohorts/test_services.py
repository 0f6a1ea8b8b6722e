from datetime import date, timedelta

import pytest

from campus.models import AuditAction, AuditLog, Membership, Role
from courses.cohorts.services import (
    CohortSettings,
    EnrollmentRefused,
    cohort_create,
    cohort_regenerate_code,
    cohort_update,
    enrollment_join_by_code,
)
from courses.models import Cohort, CohortQuota, Enrollment, EnrollmentRole
from tests.support.factories import CohortFactory, CourseFactory, EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db


SETTINGS = CohortSettings(
    name="Spring 2027",
    starts_on=date(2027, 2, 1),
    ends_on=date(2027, 6, 30),
    time_zone="Europe/Paris",
    capacity=30,
    cpu_seconds_per_day=600,
    model_tokens_per_day=None,
)


def test_creating_a_cohort_saves_its_quota_and_records_it() -> None:
    course = CourseFactory()
    actor = UserFactory()
    cohort = cohort_create(actor=actor, course=course, settings=SETTINGS)
    assert (cohort.name, cohort.time_zone, cohort.capacity) == ("Spring 2027", "Europe/Paris", 30)
    quota = CohortQuota.objects.get(cohort=cohort)
    assert (quota.cpu_seconds_per_day, quota.model_tokens_per_day) == (600, None)
    entry = AuditLog.objects.get()
    assert (entry.action, entry.actor, entry.organization) == (
        AuditAction.COHORT_CREATED,
        actor,
        course.organization,
    )
    assert entry.details["starts_on"] == "2027-02-01"


def test_updating_a_cohort_records_only_what_changed() -> None:
    actor = UserFactory()
    cohort = cohort_create(actor=actor, course=CourseFactory(), settings=SETTINGS)
    changed = CohortSettings(**{**SETTINGS.__dict__, "capacity": 40, "model_tokens_per_day": 5000})
    cohort_update(actor=actor, cohort=cohort, settings=changed)
    cohort.refresh_from_db()
    assert cohort.capacity == 40
    assert CohortQuota.objects.get(cohort=cohort).model_tokens_per_day == 5000
    entry = AuditLog.objects.get(action=AuditAction.COHORT_CHANGED)
    assert entry.details == {
        "changes": {
            "capacity": {"old": 30, "new": 40},
            "model_tokens_per_day": {"old": None, "new": 5000},
        }
    }
    cohort_update(actor=actor, cohort=cohort, settings=changed)
    assert AuditLog.objects.filter(action=AuditAction.COHORT_CHANGED).count() == 1


def test_a_new_code_replaces_the_old_one() -> None:
    cohort = CohortFactory()
    old = cohort.enrollment_code
    cohort_regenerate_code(actor=UserFactory(), cohort=cohort)
    assert Cohort.objects.get(pk=cohort.pk).enrollment_code != old
    with pytest.raises(Cohort.DoesNotExist):
        enrollment_join_by_code(user=UserFactory(), code=old)


def test_joining_by_code_enrolls_a_student_makes_them_a_member_and_records_both() -> None:
    cohort = CohortFactory()
    learner = UserFactory()
    result = enrollment_join_by_code(user=learner, code=cohort.enrollment_code)
    assert result.created
    assert result.enrollment.role == EnrollmentRole.STUDENT
    membership = Membership.objects.get(user=learner)
    assert (membership.organization, membership.role) == (cohort.course.organization, Role.STUDENT)
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert actions == {AuditAction.ENROLLMENT_CREATED, AuditAction.MEMBER_JOINED}
    assert AuditLog.objects.get(action=AuditAction.ENROLLMENT_CREATED).details["via"] == (
        "invite_link"
    )


def test_joining_twice_keeps_one_enrollment() -> None:
    cohort = CohortFactory()
    learner = UserFactory()
    enrollment_join_by_code(user=learner, code=cohort.enrollment_code)
    again = enrollment_join_by_code(user=learner, code=cohort.enrollment_code)
    assert not again.created
    assert Enrollment.objects.filter(user=learner).count() == 1


def test_a_full_cohort_refuses_new_students_but_staff_do_not_take_seats() -> None:
    cohort = CohortFactory(capacity=2)
    EnrollmentFactory(cohort=cohort, role=EnrollmentRole.INSTRUCTOR)
    enrollment_join_by_code(user=UserFactory(), code=cohort.enrollment_code)
    enrollment_join_by_code(user=UserFactory(), code=cohort.enrollment_code)
    with pytest.raises(EnrollmentRefused, match=r"This cohort is full \(2 learners\)"):
        enrollment_join_by_code(user=UserFactory(), code=cohort.enrollment_code)
    assert Enrollment.objects.filter(cohort=cohort, role=EnrollmentRole.STUDENT).count() == 2


def test_a_cohort_that_has_ended_takes_nobody() -> None:
    cohort = CohortFactory(ends_on=date.today() - timedelta(days=2))
    with pytest.raises(EnrollmentRefused, match="ended"):
        enrollment_join_by_code(user=UserFactory(), code=cohort.enrollment_code)
    assert not Enrollment.objects.exists()
