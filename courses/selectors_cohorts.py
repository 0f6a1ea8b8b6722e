"""Reads for the cohort pages: a fixed number of queries whatever the number of rows."""

from django.db.models import Count, Q, QuerySet

from campus.models import Organization
from courses.models import Cohort, Course, EnrollmentRole


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
