"""Reads: which models a person may use, through a sandbox run's course or their token."""

from django.db.models import Q, QuerySet

from gateway.models import ApiToken, ModelCard


def models_for(
    *, user_id: int, course_id: int | None, is_staff: bool = False
) -> QuerySet[ModelCard]:
    """Active models for a run in `course_id`, or, without a course (personal token), the
    models of every course the person is enrolled in; staff may use every active model."""
    active = ModelCard.objects.filter(active=True)
    if course_id is not None:
        allowed = Q(all_courses=True) | Q(courses=course_id)
    elif is_staff:
        return active.order_by("name")
    else:
        allowed = Q(all_courses=True) | Q(courses__cohorts__enrollments__user_id=user_id)
    return active.filter(allowed).distinct().order_by("name")


def tokens_of(*, user_id: int) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id=user_id).order_by("revoked_at", "-created_at")
