"""config.broker: kombu's Redis transport, publishing through one client per channel; Redis
replies parsed in C."""

import uuid

from celery import current_app
from redis._parsers import _HiredisParser

from campus.redis_client import redis_client
from config.broker import Channel


def test_the_app_publishes_through_the_platforms_transport() -> None:
    with current_app.connection_for_write() as connection:
        assert isinstance(connection.default_channel, Channel)


def test_messages_published_twice_arrive_through_one_client() -> None:
    # given a queue of our own on the broker
    queue = f"config-broker-{uuid.uuid4().hex}"
    with current_app.connection_for_write() as connection:
        channel = connection.default_channel
        # when two messages are published, and the channel's pools are dropped between
        channel._put(queue, {"body": "one"})
        with channel.conn_or_acquire() as first:
            pass
        channel._put(queue, {"body": "two"})
        with channel.conn_or_acquire() as second:
            pass
        channel._disconnect_pools()
        with channel.conn_or_acquire() as third:
            # then both arrived, through one client, and a new pool gets a new client
            assert first is second and third is not first
            assert third.llen(queue) == 2
            third.delete(queue)


def test_the_brokers_and_the_platforms_redis_replies_are_parsed_by_hiredis() -> None:
    # hiredis (pyproject.toml) is redis-py's C parser, used whenever it is installed
    with current_app.connection_for_write() as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as broker:
            for client in (broker, redis_client()):
                made = client.connection_pool.make_connection()
                assert isinstance(made._parser, _HiredisParser), made._parser
