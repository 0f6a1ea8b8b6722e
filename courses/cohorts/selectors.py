"""Reads for the cohort pages: a fixed number of queries whatever the number of rows."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, Q, QuerySet, Value, When

from campus.models import AuditAction, AuditLog, Organization, User
from courses.models import Cohort, Course, Enrollment, EnrollmentRole


def course_cohorts(*, course: Course) -> QuerySet[Cohort]:
    """The course's cohorts with their quotas and head counts, newest start first."""
    return (
        Cohort.objects.filter(course=course)
        .select_related("quota")
        .annotate(
            students=Count("enrollments", filter=Q(enrollments__role=EnrollmentRole.STUDENT)),
            staff=Count("enrollments", filter=~Q(enrollments__role=EnrollmentRole.STUDENT)),
        )
    )


def university_courses(*, organization: Organization) -> QuerySet[Course]:
    return Course.objects.filter(organization=organization).annotate(
        cohort_count=Count("cohorts", distinct=True)
    )


def cohort_people(*, cohort: Cohort, search: str = "") -> QuerySet[Enrollment]:
    """The cohort's enrollments with their people, staff first, filtered by name or email."""
    people = Enrollment.objects.filter(cohort=cohort).select_related("user")
    search = search.strip()
    if search:
        people = people.filter(Q(user__email__icontains=search) | Q(user__name__icontains=search))
    staff_first = Case(
        When(role=EnrollmentRole.INSTRUCTOR, then=Value(0)),
        When(role=EnrollmentRole.TA, then=Value(1)),
        default=Value(2),
    )
    return people.order_by(staff_first, "user__name", "user__email")


@dataclass(frozen=True)
class ReplacedInvitation:
    cohort: Cohort
    replaced_at: datetime
    instructors: list[User]


def invitation_replaced(*, code: str) -> ReplacedInvitation | None:
    """The cohort whose invite link used `code` before a new one replaced it, if any."""
    entry = (
        AuditLog.objects.filter(
            action=AuditAction.COHORT_CODE_REGENERATED,
            target_type="cohort",
            details__replaced_code=code,
        )
        .order_by("-created_at")
        .first()
    )
    if entry is None or entry.target_id is None:
        return None
    cohort = (
        Cohort.objects.filter(pk=entry.target_id).select_related("course__organization").first()
    )
    if cohort is None:
        return None
    instructors = [
        enrollment.user
        for enrollment in Enrollment.objects.filter(
            cohort=cohort, role=EnrollmentRole.INSTRUCTOR
        ).select_related("user")
    ]
    return ReplacedInvitation(cohort=cohort, replaced_at=entry.created_at, instructors=instructors)
