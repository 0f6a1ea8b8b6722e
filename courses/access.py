"""Who may see this? Every fetch-and-check helper of courses: views call these, never a
bare `get()`.

Who may do what:
- a learner sees a published course they are enrolled in, and their own submissions;
- course staff (instructor or TA enrolled in any cohort of the course) see the course even
  unpublished, and its learners' work; instructors may edit it;
- a university admin acts on every course of their university; a superuser on all;
- managing a course's cohorts (dates, capacity, codes, quotas, CSV enrollment) is for those
  who may edit the course;
- an invite link's code is a credential: anyone logged in who has it may see its cohort.
"""

from dataclasses import dataclass
from typing import cast

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from campus.access import access_organization_admin, is_org_admin
from campus.models import Organization, User
from courses.models import Cohort, Course, Enrollment, EnrollmentRole, Exercise, Submission

STAFF_ROLES = frozenset({EnrollmentRole.INSTRUCTOR, EnrollmentRole.TA})


def user_of(request: HttpRequest) -> User:
    """The signed-in user (courses' views are behind login_required, so never anonymous)."""
    return cast(User, request.user)


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
    # The default ordering's, less the course's title (one course here, so the same order
    # without joining the courses).
    enrollments = list(
        Enrollment.objects.filter(user=user, cohort__course=course)
        .select_related("cohort")
        .order_by("-cohort__starts_on", "cohort__name")
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


def access_course_exercise(*, access: CourseAccess, exercise_id: int) -> Exercise:
    """Exercise `exercise_id` of the course `access` was granted on; Http404 otherwise."""
    exercise = (
        Exercise.objects.select_related("module")
        .filter(pk=exercise_id, module__course=access.course)
        .first()
    )
    if exercise is None:
        raise Http404("No such exercise")
    return exercise


def access_submission(*, user: User, submission_id: int, with_notebooks: bool = True) -> Submission:
    """A submission its learner, or the course's staff, may see. With `with_notebooks`
    False, the submitted notebook and the exercise's source are not read (a status poll
    shows neither, and each may weigh megabytes)."""
    submissions = Submission.objects.select_related(
        "exercise__module__course__organization", "cohort", "learner"
    )
    if not with_notebooks:
        submissions = submissions.defer("notebook", "exercise__source")
    try:
        submission = submissions.get(pk=submission_id)
    except Submission.DoesNotExist:
        raise Http404("No such submission") from None
    if submission.learner_id == user.pk:
        return submission
    access = course_access(user=user, course=submission.exercise.module.course)
    if access is None or not access.is_staff:
        raise Http404("No such submission")
    return submission


# ------------------------------------------------------------------ cohorts


def access_course_cohorts(*, user: User, org_slug: str, course_slug: str) -> CourseAccess:
    """The course when `user` may manage its cohorts: Http404 for strangers,
    PermissionDenied for its learners and TAs."""
    return access_course_for_edit(user=user, org_slug=org_slug, course_slug=course_slug)


def access_cohort_for_edit(
    *, user: User, org_slug: str, course_slug: str, cohort_id: int
) -> Cohort:
    access = access_course_cohorts(user=user, org_slug=org_slug, course_slug=course_slug)
    cohort = (
        Cohort.objects.filter(course=access.course, pk=cohort_id)
        .select_related("course__organization")
        .first()
    )
    if cohort is None:
        raise Http404("No such cohort")
    return cohort


def access_cohort_by_code(*, user: User, code: str) -> Cohort:
    """The cohort an invite link names. The code is the credential: anyone logged in who has
    it may see which course it is for; an unknown code is a 404."""
    cohort = (
        Cohort.objects.filter(enrollment_code=code).select_related("course__organization").first()
    )
    if cohort is None or not user.is_authenticated:
        raise Http404("No such invitation")
    return cohort


def access_university_courses(*, user: User, org_slug: str) -> Organization:
    """The university whose courses and cohorts `user` administers."""
    return access_organization_admin(user=user, slug=org_slug)
