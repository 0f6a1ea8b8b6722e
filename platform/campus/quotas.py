"""Daily usage counters in Redis, and the error raised when an allowance is spent.

Generic on purpose: the limits live with whoever sets them (courses' CohortQuota), the
counting lives here so that any app allowed to import campus (the model gateway included)
can count against a limit it was handed.
"""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campus.redis_client import redis_client

# A day's counter outlives its day by a day, so a learner near midnight in any time zone
# never sees it vanish early.
COUNTER_TTL_S = 2 * 24 * 3600


class QuotaKind(models.TextChoices):
    CPU_SECONDS = "cpu_seconds", _("sandbox CPU-seconds")
    MODEL_TOKENS = "model_tokens", _("model tokens")


@dataclass(frozen=True)
class QuotaUsage:
    kind: str
    used: int
    limit: int | None  # None: unlimited
    day: date

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


class QuotaExceeded(Exception):
    """A learner's daily allowance would be exceeded. `str(error)` is a message for the
    learner, in the language active when it is read."""

    def __init__(self, *, usage: QuotaUsage, requested: int, time_zone: str) -> None:
        self.usage = usage
        self.requested = requested
        self.time_zone = time_zone
        super().__init__(usage.kind, usage.used, usage.limit, requested)

    def __str__(self) -> str:
        if self.usage.kind == QuotaKind.CPU_SECONDS:
            text = gettext(
                "You have used %(used)s of your %(limit)s sandbox CPU-seconds for today in this "
                "cohort, and this needs %(requested)s more. Your allowance starts again at "
                "midnight (%(time_zone)s); ask your instructor if you need more."
            )
        else:
            text = gettext(
                "You have used %(used)s of your %(limit)s model tokens for today in this "
                "cohort, and this needs %(requested)s more. Your allowance starts again at "
                "midnight (%(time_zone)s); ask your instructor if you need more."
            )
        return text % {
            "used": self.usage.used,
            "limit": self.usage.limit,
            "requested": self.requested,
            "time_zone": self.time_zone,
        }


def counter_key(*, scope: str, user_id: int, kind: str, day: date) -> str:
    # QUOTA_KEY_PREFIX separates deployments (or test runs) that share one Redis.
    prefix = getattr(settings, "QUOTA_KEY_PREFIX", "quota")
    return f"{prefix}:{scope}:{user_id}:{kind}:{day.isoformat()}"


def counter_read(*, scope: str, user_id: int, kind: str, day: date) -> int:
    raw = redis_client().get(counter_key(scope=scope, user_id=user_id, kind=kind, day=day))
    return int(raw) if raw is not None else 0


def counter_read_many(*, scope: str, user_ids: list[int], kind: str, day: date) -> dict[int, int]:
    """The day's counters of many people in one round trip."""
    if not user_ids:
        return {}
    keys = [counter_key(scope=scope, user_id=u, kind=kind, day=day) for u in user_ids]
    values = redis_client().mget(keys)
    return {u: int(v) if v is not None else 0 for u, v in zip(user_ids, values, strict=True)}


def counter_add(*, scope: str, user_id: int, kind: str, day: date, amount: int) -> int:
    """Add `amount` to the day's counter (usage measured after the work: the next check
    against a limit fails once it is passed). Returns the day's usage after the call.

    Redis errors propagate: they are the platform's fault, and the caller's retry policy
    decides.
    """
    if amount < 0:
        raise ValueError("A quota amount cannot be negative")
    key = counter_key(scope=scope, user_id=user_id, kind=kind, day=day)
    pipe = redis_client().pipeline()  # one round trip, both or neither (MULTI/EXEC)
    pipe.incrby(key, amount)
    pipe.expire(key, COUNTER_TTL_S)
    used, _ = pipe.execute()
    return int(used)
