"""The operations page's figures, and a validation run by a real Celery worker."""

import time
from datetime import timedelta

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from courses import routing
from courses.grading import operations
from courses.models import ExerciseValidation, Submission, SubmissionStatus
from tests.support.factories import UserFactory
from tests.support.worker import celery_worker
from tests.support.world import make_world


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (operations.percentile(values, 0.5), operations.percentile(values, 0.95)) == (50, 95)
    assert operations.percentile([], 0.5) is None


@pytest.mark.django_db
def test_latency_counts_submissions_finished_in_the_last_hour() -> None:
    world = make_world()
    now = timezone.now()
    Submission.objects.filter(pk=world.submission.pk).update(
        created_at=now - timedelta(seconds=12), finished_at=now - timedelta(seconds=2)
    )
    old = Submission.objects.create(
        exercise=world.exercise,
        learner=world.student,
        cohort=world.cohort,
        status=SubmissionStatus.GRADED,
    )
    Submission.objects.filter(pk=old.pk).update(
        created_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=2)
    )
    latency = operations.grading_latency()
    assert (latency.count, latency.p50_s) == (1, 10.0)


def test_queue_depth_is_the_length_of_each_celery_list() -> None:
    # A queue of its own: no worker consumes it while this test counts.
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.rpush("ops-test", "a", "b")
    client.rpush("ops-test\x06\x169", "c")  # a priority sub-queue of kombu's Redis transport
    try:
        assert operations.queue_depths(queues=("ops-test",)) == {"ops-test": 3}
    finally:
        client.delete("ops-test", "ops-test\x06\x169")


@pytest.mark.django_db
def test_recent_errors_list_failed_and_flagged_submissions() -> None:
    world = make_world()
    Submission.objects.filter(pk=world.submission.pk).update(
        status=SubmissionStatus.ERROR, needs_staff=True, error_message="KernelDied"
    )
    assert operations.recent_errors() == [world.submission]
    superuser = UserFactory(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(superuser)
    html = client.get("/courses/teach/operations/").content.decode()
    assert "KernelDied" in html
    cards = client.get("/courses/teach/operations/workers").content.decode()
    assert "No worker answered." in cards


@pytest.mark.django_db
def test_the_operations_page_shows_web_latency_per_route() -> None:
    # given: requests to two routes, recorded by every web process in Redis
    redis.Redis.from_url(settings.REDIS_URL).delete(
        operations.WEB_ROUTES_KEY, operations.WEB_LATENCY_KEY + "courses:my_courses"
    )
    superuser = UserFactory(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(superuser)
    for _ in range(3):
        client.get("/courses/")
    # when
    html = client.get("/courses/teach/operations/").content.decode()
    rows = {row.route: row for row in operations.web_latency()}
    # then
    assert rows["courses:my_courses"].count == 3
    assert rows["courses:my_courses"].p95_ms is not None
    assert "<code>courses:my_courses</code>" in html


@pytest.mark.django_db
def test_the_page_shows_live_sessions_held_free_and_spare_kernels_per_worker() -> None:
    # given two interactive workers that reported, one of them since gone silent
    now = time.time()
    routing.worker_report(
        worker="interactive@h1", held=180, capacity=300, warm=30, spares=40, now=now
    )
    routing.worker_report(worker="interactive@h2", held=7, capacity=300, now=now - 600)
    try:
        rows = {w.name: w for w in operations.session_workers(now=now)}
        superuser = UserFactory(is_superuser=True, is_staff=True)
        client = Client()
        client.force_login(superuser)
        html = client.get("/courses/teach/operations/").content.decode()
    finally:
        routing.worker_forget(worker="interactive@h1")
        routing.worker_forget(worker="interactive@h2")
    # then each shows what it holds and what is free; the silent one has no room
    assert (rows["interactive@h1"].held, rows["interactive@h1"].free) == (180, 120)
    assert (rows["interactive@h2"].alive, rows["interactive@h2"].free) == (False, 0)
    assert "Live notebook sessions" in html and "interactive@h1" in html
    assert (rows["interactive@h1"].warm, rows["interactive@h1"].spares) == (30, 40)
    assert "<td>180</td><td>120</td><td>30</td>" in html
    assert "not reporting" in html


@pytest.fixture(scope="module")
def worker(django_db_setup):
    with celery_worker(queues="grading,default"):
        yield


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_worker_validates_an_exercise_and_reports_its_warm_kernels(worker) -> None:
    # given an instructor asking for a validation
    world = make_world()
    client = Client()
    client.force_login(world.instructor)
    base = f"/courses/teach/{world.course.organization.slug}/{world.course.slug}/"
    client.post(f"{base}exercises/{world.exercise.pk}/validate")
    # when the worker has run it
    deadline = time.monotonic() + 600  # only bounds a failure: wait for the worker
    while time.monotonic() < deadline:
        validation = ExerciseValidation.objects.get(exercise=world.exercise)
        if validation.status != "queued":
            break
        time.sleep(0.5)
    # then both versions were graded
    assert (validation.status, validation.ok) == ("done", True), validation.report
    # and the operations page sees the worker and its kernel pool
    workers = operations.workers(timeout=5)
    assert len(workers) == 1
    assert workers[0].kernels_size == settings.SANDBOX_POOL_SIZE
    assert workers[0].kernels_ready is not None
    superuser = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(superuser)
    assert workers[0].name in client.get("/courses/teach/operations/").content.decode()


@pytest.mark.django_db
def test_the_page_never_waits_for_the_workers_and_its_script_asks_them(monkeypatch) -> None:
    # given a broadcast that would wait for answers (here: one worker answers)
    calls: list[float] = []

    def broadcast(command: str, *, reply: bool, timeout: float) -> list[dict]:
        calls.append(timeout)
        return [{"grading@h1": {"ready": 2, "size": 4}}]

    monkeypatch.setattr(current_app.control, "broadcast", broadcast)
    cache.delete(operations.WORKERS_KEY)
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    # when the page is opened, nothing is broadcast: it says it is asking
    page = client.get("/courses/teach/operations/").content.decode()
    assert calls == []
    assert "Asking the workers…" in page
    assert 'data-url="/courses/teach/operations/workers"' in page
    # then its script's request asks the workers, and the next page shows their answer
    cards = client.get("/courses/teach/operations/workers").content.decode()
    assert len(calls) == 1
    assert "<code>grading@h1</code>: 2 of 4 kernels warm" in cards
    again = client.get("/courses/teach/operations/").content.decode()
    assert len(calls) == 1 and "<code>grading@h1</code>" in again


@pytest.mark.django_db
def test_only_platform_staff_may_ask_the_workers() -> None:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/courses/teach/operations/workers").status_code == 403


def test_a_web_process_writes_its_latency_samples_once_a_second_not_per_request() -> None:
    # given: a process's buffer, its clock in our hands, Redis without samples of the route
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = operations.WEB_LATENCY_KEY + "test:buffered"
    client.delete(key)
    now = [100.0]
    buffer = operations.LatencyBuffer(flush_s=1.0, clock=lambda: now[0])
    # when: three requests within the second
    for ms in (5, 6, 7):
        buffer.record(route="test:buffered", seconds=ms / 1000)
    # then: nothing written yet
    assert client.llen(key) == 0
    # when: the next request comes after the second is over
    now[0] += 1.0
    buffer.record(route="test:buffered", seconds=0.008)
    # then: all four are written together, the newest first
    assert [float(v) for v in client.lrange(key, 0, -1)] == [8.0, 7.0, 6.0, 5.0]
    assert b"test:buffered" in client.smembers(operations.WEB_ROUTES_KEY)
