"""Accepted means graded: faults injected into real processes (Redis stopped and started
again, a grading process killed, the model gateway gone), and the submission still ends
graded exactly once with the right score."""

import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.embedded_redis import start_redis
from courses.exercises.services import exercise_create
from courses.grading import recovery, services
from courses.grading.pipeline import ModelServiceDown, grade_notebook
from courses.models import GradeRecord, Submission, SubmissionStatus
from tests.support.exercises import add_exercise, answered, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory
from tests.support.insecure_kernel import InsecureLocalKernel
from tests.support.worker import celery_worker

ROOT = Path(__file__).resolve().parents[3]
RIGHT = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def setup(db):
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    url = f"/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/submit"
    return enrollment, exercise, url


@pytest.fixture
def redis_down(tmp_path):
    """Kill this test process's Redis for the test; calling the fixture's value starts a
    new, empty one on the same port (as a restart without persistence: what was queued is
    gone), which clients reconnect to by themselves."""
    port = int(settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    pid = _redis_pid(port)
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: _is_zombie(pid))
    started = []

    def restart() -> None:
        started.append(start_redis(data_dir=tmp_path / "redis", persist=False, port=port))

    yield restart
    if not started:
        restart()


def _redis_pid(port: int) -> int:
    return int(redis.Redis(port=port).info("server")["process_id"])


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.django_db(transaction=True)
def test_a_submit_writes_once_the_submission_and_that_it_was_sent(setup, monkeypatch) -> None:
    # given: a learner and the broker (recorded)
    enrollment, _exercise, url = setup
    sent = []
    monkeypatch.setattr(recovery.queues, "send", lambda name, *args, **_: sent.append(args))
    client = Client()
    client.force_login(enrollment.user)
    # when the learner submits
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            url,
            data=json.dumps(answered(add_exercise(), add=RIGHT)),
            content_type="application/json",
        )
    # then it is saved and sent, with one write (SQLite's write lock is taken once)
    assert response.status_code == 202
    submission = Submission.objects.get(pk=response.json()["id"])
    assert (submission.status, sent) == (SubmissionStatus.QUEUED, [(submission.pk,)])
    assert submission.enqueued_at is not None
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 1 and writes[0].startswith('INSERT INTO "courses_submission"'), writes
    # and each row it needs is read once: the learner's enrollment by the access check (and
    # under the lock where the database locks rows), the cohort's settings for the exercise
    # once (deadline and attempts)
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    locked = 1 if connection.features.has_select_for_update else 0
    assert sum('FROM "courses_enrollment"' in r for r in reads) == 1 + locked, reads
    assert sum('FROM "courses_cohortexercise"' in r for r in reads) == 1, reads
    assert not [r for r in reads if 'FROM "courses_module"' in r], reads


def _wait_until(condition, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s  # a failure bound only
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true")
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_submission_made_while_redis_is_down_is_accepted_and_sent_once_it_is_back(
    setup, redis_down
) -> None:
    enrollment, _exercise, url = setup
    client = Client()
    client.force_login(enrollment.user)
    # when the learner submits while Redis (the broker, the quota counters) is down
    response = client.post(
        url, data=json.dumps(answered(add_exercise(), add=RIGHT)), content_type="application/json"
    )
    # then the submission is accepted all the same, not yet sent
    assert response.status_code == 202, response.content
    submission = Submission.objects.get(pk=response.json()["id"])
    assert (submission.status, submission.enqueued_at) == (SubmissionStatus.QUEUED, None)
    assert recovery.sweep(now=timezone.now() + timedelta(seconds=60))["unsent"] == []
    # and once Redis is back the sweep sends it, once
    redis_down()
    later = timezone.now() + timedelta(seconds=settings.GRADING_UNSENT_AFTER_S + 1)
    assert recovery.sweep(now=later)["unsent"] == [submission.pk]
    assert recovery.grading_queue_length() == 1
    assert recovery.sweep(now=later)["unsent"] == []
    submission.refresh_from_db()
    assert submission.enqueued_at is not None


@pytest.mark.django_db(transaction=True)
def test_pages_that_need_redis_answer_503_with_a_message_while_it_is_down(
    setup, redis_down
) -> None:
    enrollment, _exercise, _url = setup
    client = Client()
    # a login needs Redis (its rate limit); it says so instead of a bare server error
    response = client.post("/accounts/login/", {"login": "x@example.org", "password": "wrong"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "try again in a moment" in response.content.decode()
    assert '<main id="main"' in response.content.decode()  # the site's layout
    # and in French
    response = client.post(
        "/accounts/login/",
        {"login": "x@example.org", "password": "wrong"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert "réessayez dans un instant" in response.content.decode()
    # while a page that does not need Redis still works
    client.force_login(enrollment.user)
    assert client.get("/courses/").status_code == 200


def test_running_work_without_a_heartbeat_is_requeued_and_live_work_is_left_alone(
    setup,
) -> None:
    enrollment, exercise, _ = setup
    orphan, alive = (
        services.submission_create(
            learner=enrollment.user, exercise=exercise, notebook=answered(add_exercise(), add=RIGHT)
        )
        for _ in range(2)
    )
    orphan_claim = services.submission_claim(submission_id=orphan.pk)
    services.submission_claim(submission_id=alive.pk)
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GRADING_HEARTBEAT_STALE_S + 1)
    Submission.objects.filter(pk=orphan.pk).update(heartbeat_at=stale)
    Submission.objects.filter(pk=alive.pk).update(heartbeat_at=now)
    assert recovery.sweep(now=now)["orphaned"] == [orphan.pk]
    assert Submission.objects.get(pk=alive.pk).status == SubmissionStatus.RUNNING
    # the requeued one is claimed again; the presumed-dead worker can no longer save
    fresh = services.submission_claim(submission_id=orphan.pk)
    assert fresh is not None and orphan_claim is not None
    assert not services.submission_fail(claim=orphan_claim, reason="late")
    assert services.submission_fail(claim=fresh, reason="now")


@pytest.mark.django_db(transaction=True)
def test_a_grading_keeps_its_heartbeat_while_it_runs(setup, settings) -> None:
    enrollment, exercise, _ = setup
    settings.GRADING_HEARTBEAT_S = 0.01
    submission = services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=answered(add_exercise(), add=RIGHT)
    )
    claim = services.submission_claim(submission_id=submission.pk)
    assert claim is not None
    with recovery.heartbeat(submission_id=submission.pk, token=claim.token):
        _wait_until(
            lambda: (
                (Submission.objects.get(pk=submission.pk).heartbeat_at or claim.token) > claim.token
            )
        )


def test_queued_work_lost_by_the_broker_is_sent_again_only_when_the_queue_is_empty(
    setup, monkeypatch
) -> None:
    enrollment, exercise, _ = setup
    submission = services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=answered(add_exercise(), add=RIGHT)
    )
    sent_long_ago = timezone.now() - timedelta(seconds=settings.GRADING_RESEND_AFTER_S + 1)
    Submission.objects.filter(pk=submission.pk).update(enqueued_at=sent_long_ago)
    monkeypatch.setattr(recovery, "grading_queue_length", lambda: 5)
    assert recovery.sweep()["lost"] == []  # messages still wait: waiting is normal
    monkeypatch.setattr(recovery, "grading_queue_length", lambda: 0)
    assert recovery.sweep()["lost"] == [submission.pk]
    assert recovery.sweep()["lost"] == []  # sent again just now


LEARNER_CLIENT = ROOT / "platform" / "gateway" / "learner_client"
CALLS_A_MODEL = (
    "import os, sys\n"
    f"sys.path.insert(0, {str(LEARNER_CLIENT)!r})\n"
    "os.environ['OPEN_MODELS_SOCKET'] = '/nonexistent/gateway.sock'\n"
    "import open_models\n"
    "def add(a, b):\n"
    "    open_models.embed('a sentence')\n"
    "    return a + b\n"
)


def _grade_with_the_model_service(exercise, *, up: bool):
    from courses.exercises.selectors import parsed_exercise

    return grade_notebook(
        source=parsed_exercise(exercise),
        submission=answered(add_exercise(), add=CALLS_A_MODEL),
        kernel_factory=InsecureLocalKernel,
        model_service_up=lambda: up,
    )


def test_a_run_that_meets_the_model_service_down_is_our_error_not_the_learners(setup) -> None:
    _, exercise, _ = setup
    with pytest.raises(ModelServiceDown):
        _grade_with_the_model_service(exercise, up=False)
    # a learner who raises the same error while the service is up earns what the code earns
    report = _grade_with_the_model_service(exercise, up=True)
    assert report.score == 0.0


def test_the_learner_client_says_the_model_service_is_restarting(tmp_path, monkeypatch) -> None:
    import sys

    monkeypatch.syspath_prepend(str(LEARNER_CLIENT))
    sys.modules.pop("open_models", None)
    import open_models

    monkeypatch.setattr(open_models, "SOCKET", str(tmp_path / "gateway.sock"))
    with pytest.raises(open_models.ModelServiceUnavailable) as error:
        open_models.embed("a sentence")
    assert error.value.status == 503
    assert "the model service is restarting; try again in a moment" in str(error.value)
    sys.modules.pop("open_models", None)


@pytest.fixture(scope="module")
def prefork_worker(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), celery_worker(queues="grading,default", pool="prefork"):
        yield


SLOW_RIGHT = "import time\ntime.sleep(8)\ndef add(a, b):\n    return a + b\n"


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_killed_grading_process_loses_nothing_and_grades_once(setup, prefork_worker) -> None:
    enrollment, exercise, _ = setup
    submission = services.submission_create(
        learner=enrollment.user,
        exercise=exercise,
        notebook=answered(add_exercise(), add=SLOW_RIGHT),
    )
    _wait_until(lambda: Submission.objects.get(pk=submission.pk).status == SubmissionStatus.RUNNING)
    # when the pool process grading it is killed (the cell sleeps 8 s: it is mid-run)
    for child in _pool_children():
        os.kill(child, signal.SIGKILL)
    # then, its heartbeat gone stale, the sweep requeues it and a new process grades it
    later = timezone.now() + timedelta(seconds=settings.GRADING_HEARTBEAT_STALE_S + 1)
    assert recovery.sweep(now=later)["orphaned"] == [submission.pk]
    _wait_until(lambda: Submission.objects.get(pk=submission.pk).status in services.TERMINAL)
    submission.refresh_from_db()
    assert (submission.status, str(submission.score)) == (SubmissionStatus.GRADED, "3.00")
    assert GradeRecord.objects.filter(submission=submission).count() == 1


def _pool_children() -> list[int]:
    """The prefork pool processes of this test process's Celery worker."""
    children = [child for worker in _children(os.getpid()) for child in _children(worker)]
    assert children, "no pool process found"
    return children


def _children(pid: int) -> list[int]:
    """The Celery processes started by process `pid`."""
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _ppid(int(p.name)) == pid and b"celery" in _cmdline(p)
    ]


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(path: Path) -> bytes:
    try:
        return (path / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_database_connections_cut_mid_grading_lose_nothing(setup, prefork_worker) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a file database (SQLite) has no server connection to cut")
    enrollment, exercise, _ = setup
    submission = services.submission_create(
        learner=enrollment.user,
        exercise=exercise,
        notebook=answered(add_exercise(), add=SLOW_RIGHT),
    )
    _wait_until(lambda: Submission.objects.get(pk=submission.pk).status == SubmissionStatus.RUNNING)
    # when the database server drops every other connection (a restart, a failover)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    # then the worker reconnects, and whatever its attempt left unfinished (no heartbeat
    # any more) is requeued by the sweep, on the real clock, as beat would every 5 s
    def finished() -> bool:
        recovery.sweep()
        return Submission.objects.get(pk=submission.pk).status in services.TERMINAL

    _wait_until(finished)
    submission.refresh_from_db()
    assert (submission.status, str(submission.score)) == (SubmissionStatus.GRADED, "3.00")
    assert GradeRecord.objects.filter(submission=submission).count() == 1
