from datetime import UTC, datetime

import pytest
from django.utils import translation

from campus.quotas import counter_key
from campus.redis_client import redis_client
from courses.cohorts.quotas import (
    QuotaExceeded,
    QuotaKind,
    cohort_day,
    quota_check,
    quota_record,
    quota_usage,
)
from courses.models import CohortQuota
from tests.support.factories import CohortFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort():
    cohort = CohortFactory(time_zone="Europe/Paris")
    CohortQuota.objects.create(cohort=cohort, cpu_seconds_per_day=60, model_tokens_per_day=1000)
    return cohort


def test_recording_within_the_allowance_counts_and_reports_what_remains(cohort) -> None:
    learner = UserFactory()
    quota_record(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=20)
    usage = quota_usage(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS)
    assert (usage.used, usage.limit, usage.remaining) == (20, 60, 40)
    quota_record(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=40)
    assert quota_usage(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS).remaining == 0


def test_going_over_the_allowance_raises_a_clear_message_and_counts_nothing(cohort) -> None:
    learner = UserFactory()
    quota_record(user=learner, cohort=cohort, kind=QuotaKind.MODEL_TOKENS, amount=900)
    with pytest.raises(QuotaExceeded) as raised:
        quota_check(user=learner, cohort=cohort, kind=QuotaKind.MODEL_TOKENS, amount=200)
    assert str(raised.value) == (
        "You have used 900 of your 1000 model tokens for today in this cohort, and this needs "
        "200 more. Your allowance starts again at midnight (Europe/Paris); ask your instructor "
        "if you need more."
    )
    assert quota_usage(user=learner, cohort=cohort, kind=QuotaKind.MODEL_TOKENS).used == 900


def test_the_message_is_translated_when_shown_in_french(cohort) -> None:
    learner = UserFactory()
    with pytest.raises(QuotaExceeded) as raised:
        quota_check(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=61)
    with translation.override("fr"):
        assert "secondes CPU" in str(raised.value)


def test_check_raises_without_counting(cohort) -> None:
    learner = UserFactory()
    assert quota_check(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=60)
    with pytest.raises(QuotaExceeded):
        quota_check(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=61)
    assert quota_usage(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS).used == 0


def test_recording_after_the_work_counts_past_the_limit_without_reading_it(
    cohort, django_assert_num_queries
) -> None:
    learner = UserFactory()
    with django_assert_num_queries(0):  # the limit matters only to the next check
        assert (
            quota_record(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=50) == 50
        )
        assert (
            quota_record(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=25) == 75
        )
    usage = quota_usage(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS)
    assert usage.used == 75 and usage.remaining == 0
    with pytest.raises(QuotaExceeded):
        quota_check(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS)
    with pytest.raises(ValueError):
        quota_record(user=learner, cohort=cohort, kind="disk", amount=1)


def test_each_learner_each_cohort_and_each_kind_count_separately(cohort) -> None:
    first, second = UserFactory(), UserFactory()
    other_cohort = CohortFactory()
    CohortQuota.objects.create(cohort=other_cohort, cpu_seconds_per_day=60)
    quota_record(user=first, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=60)
    assert quota_check(user=second, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=60)
    assert quota_check(user=first, cohort=other_cohort, kind=QuotaKind.CPU_SECONDS, amount=60)
    assert quota_check(user=first, cohort=cohort, kind=QuotaKind.MODEL_TOKENS, amount=1000)


def test_a_cohort_without_limits_is_unlimited_but_still_counted() -> None:
    cohort = CohortFactory()
    learner = UserFactory()
    quota_record(user=learner, cohort=cohort, kind=QuotaKind.MODEL_TOKENS, amount=10**6)
    usage = quota_usage(user=learner, cohort=cohort, kind=QuotaKind.MODEL_TOKENS)
    assert (usage.used, usage.limit, usage.remaining) == (10**6, None, None)


def test_the_day_is_the_cohorts_calendar_day() -> None:
    late_evening_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    paris = CohortFactory(time_zone="Europe/Paris")
    los_angeles = CohortFactory(time_zone="America/Los_Angeles")
    assert cohort_day(cohort=paris, now=late_evening_utc).isoformat() == "2026-03-02"
    assert cohort_day(cohort=los_angeles, now=late_evening_utc).isoformat() == "2026-03-01"


def test_a_negative_amount_or_an_unknown_kind_is_a_programming_error(cohort) -> None:
    learner = UserFactory()
    with pytest.raises(ValueError):
        quota_record(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=-5)
    with pytest.raises(ValueError):
        quota_check(user=learner, cohort=cohort, kind="gpu_hours")


def test_counters_live_in_redis_under_a_key_per_learner_cohort_kind_and_day(cohort) -> None:
    learner = UserFactory()
    quota_record(user=learner, cohort=cohort, kind=QuotaKind.CPU_SECONDS, amount=7)
    key = counter_key(
        scope=f"cohort{cohort.pk}",
        user_id=learner.pk,
        kind=QuotaKind.CPU_SECONDS,
        day=cohort_day(cohort=cohort),
    )
    assert int(redis_client().get(key)) == 7
    assert 0 < redis_client().ttl(key) <= 2 * 24 * 3600
