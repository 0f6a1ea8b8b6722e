"""Reads of the LTI records."""

from django.db.models import QuerySet

from campus.models import Organization
from courses.models import Course
from lti.models import Context, Registration, ScorePost


def registration_for_login(*, issuer: str, client_id: str) -> Registration | None:
    """The active registration a login names: the issuer with its client id, or the issuer
    alone when it has a single registration."""
    registrations = Registration.objects.filter(issuer=issuer, active=True)
    if client_id:
        registrations = registrations.filter(client_id=client_id)
    found = list(registrations[:2])
    return found[0] if len(found) == 1 else None


def university_registrations(*, organization: Organization) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(organization=organization)
        .prefetch_related("deployments")
        .order_by("-active", "name")
    )


def course_scores(*, course: Course) -> QuerySet[ScorePost]:
    """The LMS scores of a course's exercises, for its staff (one query)."""
    return (
        ScorePost.objects.filter(link__exercise__module__course=course)
        .select_related("account__user", "link__exercise", "link__context")
        .order_by("link__context__title", "link__exercise__title", "account__user__name", "pk")
    )


def course_contexts(*, course: Course) -> QuerySet[Context]:
    """The LMS courses linked to a course's cohorts."""
    return Context.objects.filter(cohorts__cohort__course=course).distinct().order_by("title")
