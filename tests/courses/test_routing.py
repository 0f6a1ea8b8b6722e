"""A new live session goes to the least loaded interactive worker that is alive and has
room, as the workers' own reports in Redis say."""

import time

import pytest

from campus.redis_client import redis_client
from courses import routing


@pytest.fixture(autouse=True)
def no_workers():
    client = redis_client()
    client.delete(routing.WORKERS_KEY, routing.ASSIGNED_KEY)
    yield
    client.delete(routing.WORKERS_KEY, routing.ASSIGNED_KEY)


def test_the_least_loaded_worker_takes_a_new_session() -> None:
    routing.worker_report(worker="a@h1", held=50, capacity=100)
    routing.worker_report(worker="b@h2", held=10, capacity=100)
    assert routing.worker_pick() == "b@h2"


def test_a_burst_is_spread_before_the_next_reports() -> None:
    # given two empty workers
    routing.worker_report(worker="a@h1", held=0, capacity=100)
    routing.worker_report(worker="b@h2", held=0, capacity=100)
    # when 100 learners arrive before either reports again
    picks = [routing.worker_pick() for _ in range(100)]
    # then each worker gets half of them
    assert picks.count("a@h1") == picks.count("b@h2") == 50


def test_a_full_or_silent_worker_takes_nothing() -> None:
    now = time.time()
    routing.worker_report(worker="full@h1", held=10, capacity=10, now=now)
    routing.worker_report(worker="dead@h2", held=0, capacity=10, now=now - 60)
    assert routing.worker_pick(now=now) is None
    assert routing.workers_known(now=now) == (1, 0)
    assert routing.worker_is_dead("dead@h2", now=now)
    assert not routing.worker_is_dead("full@h1", now=now)
    assert not routing.worker_is_dead("never-reported@h3", now=now)


def test_a_report_replaces_what_the_web_counted_meanwhile() -> None:
    routing.worker_report(worker="a@h1", held=0, capacity=3)
    assert [routing.worker_pick() for _ in range(4)] == ["a@h1", "a@h1", "a@h1", None]
    routing.worker_report(worker="a@h1", held=1, capacity=3)
    assert routing.workers_load()[0].free == 2
