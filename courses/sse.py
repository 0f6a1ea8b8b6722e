"""The one Redis pub/sub → Server-Sent Events relay, and publishing to it.

Workers publish JSON events on a Redis channel (best effort: a lost event never fails the
work, the database stays the source of truth); a page follows the channel over SSE. The
relay subscribes before it reads the opening state, so no change can slip between the two,
and sends a comment every KEEPALIVE_S so that proxies keep the connection open.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.http import StreamingHttpResponse

from campus.redis_client import redis_client

KEEPALIVE_S = 15
Event = dict[str, Any]


def publish(channel: str, event: Event) -> None:
    """Best effort: a lost event must never fail a grading or a notebook run."""
    with contextlib.suppress(redis.RedisError):
        redis_client().publish(channel, json.dumps(event, default=str))


def response(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def frame(event: Event, *, name: str = "") -> str:
    """One SSE message; `name` is its event type (the default "message" when empty)."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(event)}\n\n"


async def relay(
    channel: str,
    *,
    opening: Callable[[], Awaitable[Event]],
    shown: Callable[[Event], Awaitable[Event]] | None = None,
    last: Callable[[Event], bool] = lambda event: False,
    name: str = "",
    max_s: float,
) -> AsyncIterator[str]:
    """`opening()` first, then each event published on `channel` (as `shown` makes it),
    until `last` says an event ends the stream or `max_s` have passed."""
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel)
        event = await opening()
        yield frame(event, name=name)
        if last(event):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        while loop.time() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_S)
            if message is None:
                yield ": keep-alive\n\n"
                continue
            event = json.loads(message["data"])
            if shown is not None:
                event = await shown(event)
            yield frame(event, name=name)
            if last(event):
                return
    finally:
        await pubsub.aclose()
        await client.aclose()
