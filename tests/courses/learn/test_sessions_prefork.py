"""A worker that cannot hold sessions (the prefork pool) says so instead of hanging."""

import pytest

from tests.support.sessions import finished, follow, run
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
    pytest.mark.usefixtures("no_workers_known"),
]


@pytest.fixture(scope="module")
def prefork_worker(django_db_setup):
    with celery_worker(queues="interactive", pool="prefork"):
        yield


def test_a_prefork_worker_reports_that_it_cannot_hold_a_session(prefork_worker, page) -> None:
    user, _exercise, base, client = page
    events = follow(
        user, base, run(client, base, ("a", "1+1")),
        until=finished(1),
    )  # fmt: skip
    # then the page is told why, and the cell is not left waiting
    assert {"type": "kernel", "state": "unavailable", "reason": "pool"} in events
    assert events[-1]["state"] == "skipped"
