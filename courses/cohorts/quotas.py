"""Per-cohort daily quotas: sandbox CPU-seconds and model tokens per learner per day.

API (for grading, interactive kernels and the model gateway's callers in courses):

    quota_check(*, user, cohort, kind, amount=1) -> QuotaUsage
        Raises QuotaExceeded when `amount` more would pass today's limit. Counts nothing.
    quota_record(*, user, cohort, kind, amount) -> int
        Adds `amount`, measured after the work (the CPU time a run took), to today's usage
        whatever the limit; the next check then fails. Returns today's usage.
    quota_usage(*, user, cohort, kind) -> QuotaUsage

`kind` is QuotaKind.CPU_SECONDS or QuotaKind.MODEL_TOKENS; amounts are whole numbers (round
CPU time up). "Today" is the calendar day in the cohort's time zone. A cohort without a
CohortQuota row, or with an empty limit, is unlimited, but usage is still counted.
`str(QuotaExceeded)` is the message to show the learner, translated.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from campus.models import User
from campus.quotas import (
    QuotaExceeded,
    QuotaKind,
    QuotaUsage,
    counter_add,
    counter_key,
    counter_read,
    counter_read_many,
)
from courses.models import Cohort, CohortQuota, EnrollmentRole

__all__ = [
    "QuotaExceeded",
    "QuotaKind",
    "QuotaUsage",
    "personal_model_token_quotas",
    "quota_check",
    "quota_record",
    "quota_usage",
    "quota_usage_today",
]


def cohort_day(*, cohort: Cohort, now: datetime | None = None) -> date:
    """Today in the cohort's time zone."""
    try:
        zone = ZoneInfo(cohort.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (now or timezone.now()).astimezone(zone).date()


def _scope(cohort: Cohort) -> str:
    """Whose counters: the cohort's (campus.quotas keeps one per learner, kind and day)."""
    return f"cohort{cohort.pk}"


def quota_limit(*, cohort: Cohort, kind: str) -> int | None:
    if kind not in QuotaKind.values:
        raise ValueError(f"Unknown quota kind {kind!r}")
    quota = CohortQuota.objects.filter(cohort=cohort).first()
    if quota is None:
        return None
    if kind == QuotaKind.CPU_SECONDS:
        return quota.cpu_seconds_per_day
    return quota.model_tokens_per_day


def quota_usage(*, user: User, cohort: Cohort, kind: str, limit: int | None = None) -> QuotaUsage:
    """`limit`: the cohort's limit when the caller has read it (quota_limit) already."""
    day = cohort_day(cohort=cohort)
    used = counter_read(scope=_scope(cohort), user_id=user.pk, kind=kind, day=day)
    limit = limit if limit is not None else quota_limit(cohort=cohort, kind=kind)
    return QuotaUsage(kind=kind, used=used, limit=limit, day=day)


def quota_usage_today(*, cohort: Cohort, user_ids: list[int]) -> dict[int, dict[str, int]]:
    """Today's usage of each kind for many learners of `cohort`: {user_id: {kind: used}}, read
    from Redis in one round trip per kind (for the staff's view of a cohort)."""
    day = cohort_day(cohort=cohort)
    usage: dict[int, dict[str, int]] = {user_id: {} for user_id in user_ids}
    for kind in QuotaKind.values:
        counts = counter_read_many(scope=_scope(cohort), user_ids=user_ids, kind=kind, day=day)
        for user_id, used in counts.items():
            usage[user_id][kind] = used
    return usage


def quota_check(
    *, user: User, cohort: Cohort, kind: str, amount: int = 1, limit: int | None = None
) -> QuotaUsage:
    usage = quota_usage(user=user, cohort=cohort, kind=kind, limit=limit)
    if usage.limit is not None and usage.used + amount > usage.limit:
        raise QuotaExceeded(usage=usage, requested=amount, time_zone=cohort.time_zone)
    return usage


def quota_record(*, user: User, cohort: Cohort, kind: str, amount: int) -> int:
    """Add `amount`, measured after the work, to today's usage whatever the limit (the
    next check then fails): no limit to read, so no query. Returns today's usage."""
    if kind not in QuotaKind.values:
        raise ValueError(f"Unknown quota kind {kind!r}")
    day = cohort_day(cohort=cohort)
    return counter_add(scope=_scope(cohort), user_id=user.pk, kind=kind, day=day, amount=amount)


def model_token_quota(*, user_id: int, cohort: Cohort) -> tuple[str, int | None]:
    """The Redis counter of the learner's model tokens today in `cohort`, and its limit:
    handed to the model gateway in a run's grant, so the gateway charges and enforces it."""
    key = counter_key(
        scope=_scope(cohort),
        user_id=user_id,
        kind=QuotaKind.MODEL_TOKENS,
        day=cohort_day(cohort=cohort),
    )
    return key, quota_limit(cohort=cohort, kind=QuotaKind.MODEL_TOKENS)


def personal_model_token_quotas(*, user_id: int) -> list[tuple[str, int]]:
    """The model-token quotas a person's own calls (personal API token, web session) are
    charged to: those of every cohort they are a learner of that has not ended.

    Such a call names no course, so it counts against each of them and is refused once any
    is spent: otherwise a token would be a way around the cohort's limit. Named in the
    GATEWAY_PERSONAL_QUOTAS setting, which the gateway (not allowed to import courses) reads.
    """
    today = timezone.now().date()
    cohorts = (
        Cohort.objects.filter(
            enrollments__user_id=user_id,
            enrollments__role=EnrollmentRole.STUDENT,
            quota__model_tokens_per_day__isnull=False,
        )
        .exclude(ends_on__lt=today)
        .select_related("quota")
    )
    return [
        (
            counter_key(
                scope=_scope(cohort),
                user_id=user_id,
                kind=QuotaKind.MODEL_TOKENS,
                day=cohort_day(cohort=cohort),
            ),
            int(cohort.quota.model_tokens_per_day or 0),
        )
        for cohort in cohorts
    ]
