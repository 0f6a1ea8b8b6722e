import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from campus.models import Role
from courses.access import (
    access_course,
    access_course_for_edit,
    access_course_staff,
    access_submission,
)
from courses.models import EnrollmentRole, Submission
from tests.support.factories import (
    CohortFactory,
    EnrollmentFactory,
    ExerciseFactory,
    MembershipFactory,
    ModuleFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort():
    return CohortFactory()


def _slugs(cohort):
    return {"org_slug": cohort.course.organization.slug, "course_slug": cohort.course.slug}


def test_an_enrolled_student_sees_a_published_course_but_cannot_edit_it(cohort) -> None:
    student = EnrollmentFactory(cohort=cohort).user
    access = access_course(user=student, **_slugs(cohort))
    assert access.cohort == cohort
    assert not access.is_staff
    with pytest.raises(PermissionDenied):
        access_course_for_edit(user=student, **_slugs(cohort))
    with pytest.raises(PermissionDenied):
        access_course_staff(user=student, **_slugs(cohort))


def test_an_enrolled_student_cannot_see_an_unpublished_course(cohort) -> None:
    cohort.course.published = False
    cohort.course.save(update_fields=["published"])
    student = EnrollmentFactory(cohort=cohort).user
    with pytest.raises(Http404):
        access_course(user=student, **_slugs(cohort))


def test_a_stranger_does_not_learn_the_course_exists(cohort) -> None:
    with pytest.raises(Http404):
        access_course(user=UserFactory(), **_slugs(cohort))
    with pytest.raises(Http404):
        access_course(user=AnonymousUser(), **_slugs(cohort))


def test_an_instructor_edits_their_course_even_unpublished(cohort) -> None:
    cohort.course.published = False
    cohort.course.save(update_fields=["published"])
    instructor = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.INSTRUCTOR).user
    access = access_course_for_edit(user=instructor, **_slugs(cohort))
    assert access.can_edit and access.is_staff


def test_a_ta_sees_learners_work_but_cannot_edit(cohort) -> None:
    ta = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.TA).user
    assert access_course_staff(user=ta, **_slugs(cohort)).is_staff
    with pytest.raises(PermissionDenied):
        access_course_for_edit(user=ta, **_slugs(cohort))


def test_an_instructor_of_another_course_is_a_stranger_here(cohort) -> None:
    elsewhere = EnrollmentFactory(role=EnrollmentRole.INSTRUCTOR).user
    with pytest.raises(Http404):
        access_course(user=elsewhere, **_slugs(cohort))


def test_an_org_instructor_without_enrollment_is_a_stranger(cohort) -> None:
    member = MembershipFactory(organization=cohort.course.organization, role=Role.INSTRUCTOR)
    with pytest.raises(Http404):
        access_course(user=member.user, **_slugs(cohort))


def test_the_university_admin_edits_every_course_of_their_university(cohort) -> None:
    admin = MembershipFactory(organization=cohort.course.organization, role=Role.ORG_ADMIN).user
    assert access_course_for_edit(user=admin, **_slugs(cohort)).can_edit
    other_admin = MembershipFactory(role=Role.ORG_ADMIN).user
    with pytest.raises(Http404):
        access_course(user=other_admin, **_slugs(cohort))


def test_submissions_are_visible_to_their_learner_and_course_staff_only(cohort) -> None:
    learner = EnrollmentFactory(cohort=cohort).user
    exercise = ExerciseFactory(module=ModuleFactory(course=cohort.course))
    submission = Submission.objects.create(learner=learner, exercise=exercise, cohort=cohort)
    classmate = EnrollmentFactory(cohort=cohort).user
    instructor = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.INSTRUCTOR).user

    assert access_submission(user=learner, submission_id=submission.pk) == submission
    assert access_submission(user=instructor, submission_id=submission.pk) == submission
    with pytest.raises(Http404):
        access_submission(user=classmate, submission_id=submission.pk)


def test_a_submission_read_for_its_status_leaves_the_notebooks_unread(cohort) -> None:
    learner = EnrollmentFactory(cohort=cohort).user
    exercise = ExerciseFactory(module=ModuleFactory(course=cohort.course))
    submission = Submission.objects.create(learner=learner, exercise=exercise, cohort=cohort)
    instructor = EnrollmentFactory(cohort=cohort, role=EnrollmentRole.INSTRUCTOR).user

    whole = access_submission(user=learner, submission_id=submission.pk)
    assert not whole.get_deferred_fields() and not whole.exercise.get_deferred_fields()
    for user in (learner, instructor):  # the same decision either way
        light = access_submission(user=user, submission_id=submission.pk, with_notebooks=False)
        assert light == submission
        assert light.get_deferred_fields() == {"notebook"}
        assert light.exercise.get_deferred_fields() == {"source"}
    with pytest.raises(Http404):
        stranger = EnrollmentFactory(cohort=cohort).user
        access_submission(user=stranger, submission_id=submission.pk, with_notebooks=False)
