"""A Celery worker keeps its database connections from task to task (config.celery): its
SQLite connection, or its PostgreSQL pool, where Celery's Django fixup closed the pool
after every task and each grading opened a server session of its own."""

import time
from types import SimpleNamespace

import pytest
from celery.concurrency.thread import TaskPool as ThreadTaskPool
from django.db import connection, connections

from config import celery
from courses.exercises.services import exercise_create
from courses.grading import services
from courses.models import Submission
from tests.support.exercises import add_exercise, answered, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory
from tests.support.worker import celery_worker

RIGHT = "def add(a, b):\n    return a + b\n"
WORKER_APP = "test-worker-connections"  # the worker's PGAPPNAME: its sessions, by name


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_sqlite_connection_from_task_to_task(monkeypatch) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL: the worker test below counts its server sessions")
    # given: the web's setting (a connection per request), then a worker starts
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    celery._keep_sqlite_connections()
    connection.close()
    connection.ensure_connection()
    held = connection.connection
    # when a task ends
    celery._connections_as_after_a_request(sender=celery.ping)
    # then the next task uses the same connection
    assert connection.connection is held


@pytest.mark.parametrize("pool", ["threads", ThreadTaskPool])
def test_a_pool_of_threads_keeps_no_sqlite_connection(monkeypatch, pool) -> None:
    # Each of its many threads would hold one: they close after each task, as the web's.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)

    celery._keep_sqlite_connections(sender=SimpleNamespace(pool_cls=pool))

    assert connections.settings["default"]["CONN_MAX_AGE"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_task_left_with_a_broken_connection_closes_it(monkeypatch) -> None:
    connection.ensure_connection()
    connection.errors_occurred = True  # an error the connection may not survive
    monkeypatch.setattr(connection, "is_usable", lambda: False)

    celery._connections_as_after_a_request(sender=celery.ping)

    assert connection.connection is None  # the next task connects afresh


@pytest.fixture(scope="module")
def named_prefork_worker(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        celery_worker(queues="grading,default", pool="prefork", env={"PGAPPNAME": WORKER_APP}),
    ):
        yield


def _worker_sessions() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [WORKER_APP])
        return {pid for (pid,) in cursor.fetchall()}


def _grade(enrollment, exercise, count: int) -> None:
    submissions = [
        services.submission_create(
            learner=enrollment.user, exercise=exercise, notebook=answered(add_exercise(), add=RIGHT)
        )
        for _ in range(count)
    ]
    deadline = time.monotonic() + 120  # a failure bound only
    while (
        Submission.objects.filter(
            pk__in=[s.pk for s in submissions], status__in=services.TERMINAL
        ).count()
        < count
    ):
        assert time.monotonic() < deadline, "the gradings did not finish"
        time.sleep(0.05)


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_prefork_worker_grades_on_the_same_postgresql_sessions(named_prefork_worker) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server sessions (the SQLite test above)")
    enrollment = EnrollmentFactory()
    exercise = exercise_create(
        module=ModuleFactory(course=enrollment.cohort.course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    # given: the worker has graded
    _grade(enrollment, exercise, 2)
    kept = _worker_sessions()
    # when it grades more
    _grade(enrollment, exercise, 4)
    # then its sessions outlived each task, and it opened at most one more (its other
    # process's first) where each grading used to open its own
    now = _worker_sessions()
    assert kept and kept <= now, (kept, now)
    assert len(now - kept) <= 1, (kept, now)
