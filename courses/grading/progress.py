"""Live progress of submissions over Redis: the worker publishes, the SSE endpoint relays.

The last state is also kept under a key, so a browser that connects after a change still
gets it first; the database stays the source of truth.
"""

import json
from typing import Any

import redis
from django.conf import settings

STATE_TTL_S = 24 * 3600


def channel_name(submission_id: int) -> str:
    return f"submission:{submission_id}:events"


def state_key(submission_id: int) -> str:
    return f"submission:{submission_id}:state"


_clients: dict[str, redis.Redis] = {}


def client() -> redis.Redis:
    """One connection pool per Redis URL, per process."""
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=5)
    return _clients[url]


def publish(submission_id: int, event: dict[str, Any]) -> None:
    """Best effort: a lost progress message must never fail a grading."""
    payload = json.dumps(event, default=str)
    try:
        pipe = client().pipeline()
        pipe.set(state_key(submission_id), payload, ex=STATE_TTL_S)
        pipe.publish(channel_name(submission_id), payload)
        pipe.execute()
    except redis.RedisError:
        pass
