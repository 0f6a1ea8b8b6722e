"""Writes: grants for sandboxed runs, personal tokens, per-course models and usage."""

import contextlib
import hashlib
import json
import secrets
import time
import uuid
from collections import defaultdict
from datetime import date
from typing import cast

import redis
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campus.models import User
from campus.redis_client import redis_client
from gateway.keys import GRANT_KEY, USAGE_FLUSHING_PREFIX, USAGE_KEY
from gateway.models import ApiToken, ModelCard, Usage

TOKEN_PREFIX = "osk_"  # noqa: S105 (a visible marker, not a secret)


def grant_register(
    *,
    uid: int,
    user_id: int,
    course_id: int | None,
    ttl_s: float,
    quota_key: str | None = None,
    quota_limit: int | None = None,
) -> None:
    """Let the processes running as `uid` call the gateway as `user_id` in `course_id`.

    Called by the worker when a learner's run starts on a sandbox slot; the grant ends after
    `ttl_s` seconds or at `grant_revoke`, whichever comes first. `quota_key` names a Redis
    counter of today's model tokens (the cohort's quota, campus.quotas) that every call is
    charged to and refused beyond `quota_limit`.
    """
    expires_at = time.time() + ttl_s
    grant: dict[str, object] = {
        "user_id": user_id,
        "course_id": course_id,
        "expires_at": expires_at,
    }
    if quota_key:
        grant["quota"] = {"key": quota_key, "limit": quota_limit}
    value = json.dumps(grant)
    redis_client().set(GRANT_KEY.format(uid=uid), value, px=max(1, int(ttl_s * 1000)))


def grant_revoke(*, uid: int) -> None:
    """End the grant of `uid`: called when the run ends, before the slot is reused."""
    redis_client().delete(GRANT_KEY.format(uid=uid))


def token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal token; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "token", prefix=token[:10], digest=token_digest(token)
    )
    return api_token, token


def token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of `user`'s tokens; False when it is not theirs or already revoked."""
    updated = ApiToken.objects.filter(id=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return updated == 1


Counters = dict[str, int]


def _parse_usage(raw: dict[bytes, bytes]) -> dict[tuple[str, int, int | None, str], Counters]:
    totals: dict[tuple[str, int, int | None, str], Counters] = defaultdict(dict)
    for field, value in raw.items():
        day, user_id, course_id, model, counter = field.decode().split("|")
        key = (day, int(user_id), int(course_id) if course_id else None, model)
        totals[key][counter] = totals[key].get(counter, 0) + int(value)
    return totals


def _usage_write(totals: dict[tuple[str, int, int | None, str], Counters]) -> int:
    cards = dict(
        ModelCard.objects.filter(name__in={k[3] for k in totals}).values_list("name", "id")
    )
    written = 0
    with transaction.atomic():
        for (day, user_id, course_id, model), counters in totals.items():
            if model not in cards:
                continue  # removed from the catalog since: nothing to attach the usage to
            row, _ = Usage.objects.get_or_create(
                user_id=user_id,
                course_id=course_id,
                model_id=cards[model],
                day=date.fromisoformat(day),
            )
            Usage.objects.filter(id=row.id).update(
                requests=F("requests") + counters.get("requests", 0),
                prompt_tokens=F("prompt_tokens") + counters.get("prompt_tokens", 0),
                completion_tokens=F("completion_tokens") + counters.get("completion_tokens", 0),
            )
            written += 1
    return written


def usage_flush() -> int:
    """Move the usage counted in Redis into the database; returns the rows touched.

    The pending hash is renamed first, so requests served meanwhile start a new one and
    nothing is counted twice; a batch whose write failed stays under its flushing key and
    is retried by the next flush.
    """
    client = redis_client()
    batch = f"{USAGE_FLUSHING_PREFIX}{uuid.uuid4().hex}"
    with contextlib.suppress(redis.ResponseError):  # raised when no usage is pending
        client.rename(USAGE_KEY, batch)
    written = 0
    for key in client.scan_iter(match=f"{USAGE_FLUSHING_PREFIX}*"):
        written += _usage_write(_parse_usage(cast(dict[bytes, bytes], client.hgetall(key))))
        client.delete(key)
    return written
