"""Fetch-and-check helpers for courses. Views call these, never bare `get()`.

Who may do what:
- a learner sees a published course they are enrolled in, and their own submissions;
- course staff (instructor or TA enrolled in any cohort of the course) see the course even
  unpublished, and its learners' work; instructors may edit it;
- a university admin acts on every course of their university; a superuser on all.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from campus.access import is_org_admin
from campus.models import User
from courses.models import Cohort, Course, Enrollment, EnrollmentRole, Submission

STAFF_ROLES = frozenset({EnrollmentRole.INSTRUCTOR, EnrollmentRole.TA})


@dataclass(frozen=True)
class CourseAccess:
    course: Course
    cohort: Cohort | None  # the learner's cohort; None for staff with no enrollment
    is_staff: bool  # may see learners' work
    can_edit: bool  # may change the course


def course_access(*, user: User, course: Course) -> CourseAccess | None:
    """What `user` may do in `course`, or None when they have no business there."""
    if not user.is_authenticated:
        return None
    if is_org_admin(user=user, organization=course.organization):
        return CourseAccess(course=course, cohort=None, is_staff=True, can_edit=True)
    enrollments = list(
        Enrollment.objects.filter(user=user, cohort__course=course).select_related("cohort")
    )
    roles = {e.role for e in enrollments}
    learner_cohort = next((e.cohort for e in enrollments if e.role == EnrollmentRole.STUDENT), None)
    if roles & STAFF_ROLES:
        return CourseAccess(
            course=course,
            cohort=learner_cohort,
            is_staff=True,
            can_edit=EnrollmentRole.INSTRUCTOR in roles,
        )
    if learner_cohort is not None and course.published:
        return CourseAccess(course=course, cohort=learner_cohort, is_staff=False, can_edit=False)
    return None


def access_course(*, user: User, org_slug: str, course_slug: str) -> CourseAccess:
    """The course when `user` may see it; Http404 otherwise (its existence is not revealed)."""
    try:
        course = Course.objects.select_related("organization").get(
            organization__slug=org_slug, slug=course_slug
        )
    except Course.DoesNotExist:
        raise Http404("No such course") from None
    access = course_access(user=user, course=course)
    if access is None:
        raise Http404("No such course")
    return access


def access_course_for_edit(*, user: User, org_slug: str, course_slug: str) -> CourseAccess:
    access = access_course(user=user, org_slug=org_slug, course_slug=course_slug)
    if not access.can_edit:
        raise PermissionDenied("Only the course's instructors may change it")
    return access


def access_course_staff(*, user: User, org_slug: str, course_slug: str) -> CourseAccess:
    access = access_course(user=user, org_slug=org_slug, course_slug=course_slug)
    if not access.is_staff:
        raise PermissionDenied("Only the course's staff may see this")
    return access


def access_submission(*, user: User, submission_id: int) -> Submission:
    """A submission its learner, or the course's staff, may see."""
    try:
        submission = Submission.objects.select_related(
            "exercise__module__course__organization", "cohort", "learner"
        ).get(pk=submission_id)
    except Submission.DoesNotExist:
        raise Http404("No such submission") from None
    if submission.learner_id == user.pk:
        return submission
    access = course_access(user=user, course=submission.exercise.module.course)
    if access is None or not access.is_staff:
        raise Http404("No such submission")
    return submission
