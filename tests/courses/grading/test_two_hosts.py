"""Grading on two hosts against one Redis and one database, as platform/deploy runs it: a
second worker "host" in a network namespace of its own (its own address on a veth pair to
this one, its own hostname) grades beside a worker here; each submission is graded once.

This test process's Redis is told to listen on the pair's address too. The database: with
SQLite the second host opens the same file (the filesystem is shared); PostgreSQL here
listens on 127.0.0.1 only, which no other host can reach, so a relay on the pair's address
forwards to it. (Its own module: no other worker of this test process may consume the
queue.)"""

import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from courses.exercises.services import exercise_create
from courses.grading import services
from courses.models import GradeRecord, Submission, SubmissionStatus
from tests.courses.grading.test_recovery import _wait_until
from tests.support.exercises import add_exercise, answered, as_json
from tests.support.factories import CohortFactory, EnrollmentFactory, ModuleFactory
from tests.support.netns import NetnsHost, second_host, tcp_relay
from tests.support.worker import celery_worker, database_url

pytestmark = [
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
    pytest.mark.django_db(transaction=True),
]

SUBMISSIONS = 8
CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)"
SLOWISH_RIGHT = "import time\ntime.sleep(0.3)\ndef add(a, b):\n    return a + b\n"


@pytest.fixture
def host() -> Iterator[NetnsHost]:
    with second_host() as made:
        yield made


@pytest.fixture
def redis_on_the_pair(host: NetnsHost) -> Iterator[str]:
    """This test process's Redis listens on the pair's address too; its URL from there."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    before = client.config_get("bind")["bind"], client.config_get("protected-mode")
    client.config_set("protected-mode", "no")  # no password: reached from another address
    client.config_set("bind", f"127.0.0.1 {host.host_address}")
    try:
        url = urlsplit(settings.REDIS_URL)
        yield url._replace(netloc=f"{host.host_address}:{url.port}").geturl()
    finally:
        client.config_set("bind", before[0])
        client.config_set("protected-mode", before[1]["protected-mode"])


@pytest.fixture
def database_on_the_pair(host: NetnsHost) -> Iterator[str]:
    """The test database's URL as the second host reaches it."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        yield database_url()
        return
    target = (db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    with tcp_relay(listen=(host.host_address, 0), target=target) as port:
        yield database_url(host=host.host_address, port=port)


def _reaches(host: NetnsHost, address: str, port: str) -> bool:
    probe = [sys.executable, "-c", CONNECT, address, port]
    return subprocess.run(host.argv(probe), check=False, capture_output=True).returncode == 0


def test_a_worker_on_a_second_host_grades_beside_the_first_and_each_submission_once(
    host: NetnsHost, redis_on_the_pair: str, database_on_the_pair: str
) -> None:
    # given: the second host reaches this one's Redis over the pair, not over loopback
    port = str(urlsplit(settings.REDIS_URL).port)
    assert not _reaches(host, "127.0.0.1", port)
    assert _reaches(host, host.host_address, port)
    cohort = CohortFactory()
    exercise = exercise_create(
        module=ModuleFactory(course=cohort.course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    learners = [EnrollmentFactory(cohort=cohort).user for _ in range(SUBMISSIONS)]
    here, there = f"grader@{socket.gethostname()}", f"grader@{host.hostname}"
    on_second_host = {"REDIS_URL": redis_on_the_pair, "DATABASE_URL": database_on_the_pair}
    with (
        celery_worker(queues="grading,default", name=here),
        celery_worker(queues="grading,default", name=there, env=on_second_host, wrap=host.argv),
    ):
        # when: learners submit
        submitted = [
            services.submission_create(
                learner=learner,
                exercise=exercise,
                notebook=answered(add_exercise(), add=SLOWISH_RIGHT),
            )
            for learner in learners
        ]
        ids = [s.pk for s in submitted]
        _wait_until(
            lambda: (
                not Submission.objects.filter(pk__in=ids)
                .exclude(status__in=services.TERMINAL)
                .exists()
            )
        )
    # then: every one graded right, once, and both hosts graded some
    rows = Submission.objects.filter(pk__in=ids)
    assert (
        sorted((r.status, str(r.score)) for r in rows)
        == [(SubmissionStatus.GRADED, "3.00")] * SUBMISSIONS
    )
    assert [GradeRecord.objects.filter(submission_id=i).count() for i in ids] == [1] * len(ids)
    assert set(rows.values_list("worker", flat=True)) == {here, there}
