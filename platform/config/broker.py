"""Celery's Redis transport, publishing through one Redis client per channel, and acking
only what it put among the unacked messages.

kombu's makes a new redis.Redis for every message it publishes; with redis-py 8 that costs
about as much CPU as the LPUSH it is made for (a learner's run request publishes one). A
client over a connection pool keeps no state of its own and is thread-safe, so each
channel keeps one per pool (config.cache does the same for Django's cache).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publisher: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool  # made again after the channel's pools are disconnected
        if self._publisher is None or self._publisher.connection_pool is not pool:
            self._publisher = self._create_client()  # type: ignore[attr-defined]
        yield self._publisher

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        """A message taken by a consumer without acknowledgement (`no_ack`: an interactive
        worker's own queue, courses.learn.tasks) was never put among the unacked messages.
        Celery acks every task it starts all the same; kombu would then remove it from
        there, a Redis round trip for nothing. Only what its QoS delivered is acked."""
        delivered: dict[str, Any] = self.qos._delivered or {}
        if multiple or delivery_tag in delivered:
            super().basic_ack(delivery_tag, multiple=multiple)


class Transport(kombu_redis.Transport):
    Channel = Channel
