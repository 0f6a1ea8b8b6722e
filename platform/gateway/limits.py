"""Per-person daily token quotas and per-minute request rate limits, counted in Redis."""

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings
from redis.asyncio import Redis

from gateway.errors import ApiError
from gateway.keys import DAILY_TOKENS_KEY, RATE_KEY, USAGE_KEY

TWO_DAYS_S = 2 * 24 * 3600


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


async def limits_check(
    redis: Redis,
    *,
    user_id: int,
    now: float | None = None,
    quota_key: str | None = None,
    quota_limit: int | None = None,
    personal_quotas: Sequence[tuple[str, int]] = (),
) -> int:
    """Count this request against the rate limit and return the tokens left today.

    Raises a 429 ApiError when the person is over either limit, or over their cohort's
    daily quota when the grant named one, or over any of `personal_quotas`.
    """
    now = time.time() if now is None else now
    minute = int(now // 60)
    rate_key = RATE_KEY.format(user_id=user_id, minute=minute)
    tokens_key = DAILY_TOKENS_KEY.format(user_id=user_id, day=_day(now))
    async with redis.pipeline(transaction=False) as pipe:
        pipe.incr(rate_key)
        pipe.expire(rate_key, 120)
        pipe.get(tokens_key)
        requests, _, used = await pipe.execute()
    if int(requests) > settings.GATEWAY_REQUESTS_PER_MINUTE:
        raise _too_many_requests(now)
    left = settings.GATEWAY_DAILY_TOKENS - int(used or 0)
    quotas = [*personal_quotas]
    if quota_key and quota_limit is not None:
        quotas.append((quota_key, quota_limit))
    if quotas:
        left = min(left, await _quotas_left(redis, quotas))
    if left <= 0:
        raise ApiError(
            429,
            f"You have used your {settings.GATEWAY_DAILY_TOKENS} tokens for today (UTC). "
            "The quota resets at midnight UTC; ask your instructor if you need more.",
            type_="insufficient_quota",
            code="insufficient_quota",
        )
    return left


def _too_many_requests(now: float) -> ApiError:
    retry_after = str(60 - int(now % 60))
    return ApiError(
        429,
        f"Too many requests: at most {settings.GATEWAY_REQUESTS_PER_MINUTE} a minute. "
        f"Try again in {retry_after} s.",
        type_="rate_limit_error",
        code="rate_limit_exceeded",
        headers={"Retry-After": retry_after},
    )


async def _quotas_left(redis: Redis, quotas: list[tuple[str, int]]) -> int:
    """The fewest tokens any of the quotas (Redis key, daily limit) leaves today; a 429
    ApiError for the first one used up."""
    counted = await redis.mget([key for key, _limit in quotas])
    left = []
    for (_key, limit), used_in_cohort in zip(quotas, counted, strict=True):
        cohort_left = limit - int(used_in_cohort or 0)
        if cohort_left <= 0:
            raise ApiError(
                429,
                f"You have used your {limit} model tokens for today in this course. "
                "Your allowance starts again tomorrow; ask your instructor if you need "
                "more.",
                type_="insufficient_quota",
                code="insufficient_quota",
            )
        left.append(cohort_left)
    return min(left)


async def usage_record(
    redis: Redis,
    *,
    user_id: int,
    course_id: int | None,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    now: float | None = None,
    quota_key: str | None = None,
    personal_quotas: Sequence[tuple[str, int]] = (),
) -> None:
    """Charge the tokens to today's quota and queue the usage for the database."""
    now = time.time() if now is None else now
    day = _day(now)
    tokens_key = DAILY_TOKENS_KEY.format(user_id=user_id, day=day)
    field = f"{day}|{user_id}|{course_id or ''}|{model}|"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.incrby(tokens_key, prompt_tokens + completion_tokens)
        pipe.expire(tokens_key, TWO_DAYS_S)
        for key in [*([quota_key] if quota_key else []), *(k for k, _l in personal_quotas)]:
            pipe.incrby(key, prompt_tokens + completion_tokens)
            pipe.expire(key, TWO_DAYS_S)
        pipe.hincrby(USAGE_KEY, field + "requests", 1)
        pipe.hincrby(USAGE_KEY, field + "prompt_tokens", prompt_tokens)
        pipe.hincrby(USAGE_KEY, field + "completion_tokens", completion_tokens)
        await pipe.execute()
