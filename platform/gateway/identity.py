"""Who is calling: a sandboxed run (peer uid + grant), a personal token, or a web session."""

import json
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.asyncio import Redis

from gateway.errors import forbidden, unauthorized
from gateway.keys import GRANT_KEY
from gateway.models import ApiToken
from gateway.services import token_digest


@dataclass(frozen=True)
class Identity:
    user_id: int
    course_id: int | None
    is_staff: bool = False
    # The cohort's daily model-token quota, when the grant names one: a Redis counter kept
    # by campus.quotas (key) and its limit (None: counted, unlimited).
    quota_key: str | None = None
    quota_limit: int | None = None
    # A person's own calls (token, session) name no cohort: they are charged to the quota
    # of every cohort the person learns in, (Redis counter key, limit) pairs.
    personal_quotas: tuple[tuple[str, int], ...] = ()


def _personal_quotas(user_id: int) -> tuple[tuple[str, int], ...]:
    """From settings.GATEWAY_PERSONAL_QUOTAS, a function of the user id (the gateway may not
    import courses, which own the cohort quotas). Blocking."""
    path = getattr(settings, "GATEWAY_PERSONAL_QUOTAS", "")
    if not path:
        return ()
    provider = import_string(path)
    return tuple((str(key), int(limit)) for key, limit in provider(user_id=user_id))


async def identity_from_peer(redis: Redis, *, uid: int) -> Identity:
    """The learner and course that the worker granted to the sandbox slot running as `uid`."""
    raw = await redis.get(GRANT_KEY.format(uid=uid))
    grant: dict[str, Any] = json.loads(raw) if raw else {}
    if not grant or float(grant.get("expires_at", 0)) <= time.time():
        raise forbidden(
            "This process may not use the model gateway: models are available to notebook "
            "code while one of your runs is active."
        )
    course_id = grant.get("course_id")
    quota = grant.get("quota") or {}
    limit = quota.get("limit")
    return Identity(
        user_id=int(grant["user_id"]),
        course_id=int(course_id) if course_id else None,
        quota_key=str(quota["key"]) if quota.get("key") else None,
        quota_limit=int(limit) if limit is not None else None,
    )


def identity_from_token(token: str) -> Identity:
    """The owner of a personal token (Authorization: Bearer). Blocking: call from a thread."""
    row = (
        ApiToken.objects.filter(digest=token_digest(token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if row is None or not row.user.is_active:
        raise unauthorized("Invalid or revoked API token. Create one on your API tokens page.")
    ApiToken.objects.filter(id=row.id).update(last_used_at=timezone.now())
    return Identity(
        user_id=row.user_id,
        course_id=None,
        is_staff=row.user.is_staff,
        personal_quotas=_personal_quotas(row.user_id),
    )


def identity_from_session(session_key: str) -> Identity:
    """The person logged in to the web with this session cookie. Blocking: call from a thread."""
    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    # get_user checks the session's auth hash, so a changed password logs the session out here too.
    user = get_user(SimpleNamespace(session=store(session_key)))  # type: ignore[arg-type]
    if not user.is_authenticated or not user.is_active:
        raise unauthorized("Your session has expired: log in again, or use an API token.")
    return Identity(
        user_id=int(user.pk),
        course_id=None,
        is_staff=user.is_staff,
        personal_quotas=_personal_quotas(int(user.pk)),
    )
