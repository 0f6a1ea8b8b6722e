"""Fetch-and-check helpers for cohort management and invite links.

Managing a course's cohorts (dates, capacity, codes, quotas, CSV enrollment) is for those
who may edit the course: the university's admins and the course's instructors.
"""

from django.http import Http404

from campus.access import access_organization_admin
from campus.models import Organization, User
from courses.access import CourseAccess, access_course_for_edit
from courses.models import Cohort


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
