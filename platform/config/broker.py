"""Celery's Redis transport, publishing through one Redis client per channel.

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


class Transport(kombu_redis.Transport):
    Channel = Channel
