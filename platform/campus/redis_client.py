"""The process's Redis clients: one connection pool per URL, shared by every app.

Quota counters (campus), live progress and notebook sessions (courses) and the model
gateway's grants all talk to the same Redis; each process keeps one pool per URL instead
of one per caller. The async clients of Server-Sent Events streams are not here: each
stream opens its own on its event loop (courses.sse).
"""

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}


def redis_client(url: str | None = None) -> redis.Redis:
    """The client for `url` (REDIS_URL by default), made on first use."""
    url = url or settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=5)
    return client
