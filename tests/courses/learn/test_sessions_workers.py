"""Several interactive workers, for real: a dead worker's session is reported to its
learner and reopens on another worker; a full worker makes learners wait in a visible
line instead of refusing them."""

import threading
import time
from contextlib import ExitStack

import pytest
import redis
from django.conf import settings
from django.test import Client

from campus.redis_client import redis_client
from courses import routing
from courses.exercises.services import exercise_create
from courses.learn import sessions
from courses.models import Enrollment
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import EnrollmentFactory
from tests.support.sessions import Seen, finished, follow, outputs, run
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
    pytest.mark.usefixtures("no_workers_known"),
]


def test_a_dead_workers_session_is_reported_lost_and_reopens_on_another(page) -> None:
    user, exercise, base, client = page
    # given a session held by a worker that is then killed
    with celery_worker(queues="interactive", pool="threads", name="first@localhost") as first:
        follow(user, base, run(client, base, ("a", "x = 1")), until=finished(1))
        assert sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk) == (
            "first@localhost"
        )
        first.kill()
        first.wait()
    with celery_worker(queues="interactive", pool="threads", name="second@localhost"):
        # when the beat looks once the dead worker's reports are stale
        later = time.time() + routing.STALE_AFTER_S + 1
        events = follow(
            user, base, lambda: sessions.sessions_cull_idle(idle_s=10**6, now=later),
            until=lambda evs: any(e.get("state") == "lost" for e in evs),
        )  # fmt: skip
        # then the page is told its kernel was restarted, and the next run gets a new one
        assert {"type": "kernel", "state": "lost"} in events
        after = follow(user, base, run(client, base, ("b", "x")), until=finished(1))
        assert any(o.get("ename") == "NameError" for o in outputs(after))
        assert sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk) == (
            "second@localhost"
        )


def queued(events: list[dict]) -> bool:
    return any(e.get("state") == "queued" for e in events)


def test_a_learner_waits_in_line_when_the_worker_is_full(page) -> None:
    user, _exercise, base, client = page
    other = EnrollmentFactory(cohort=Enrollment.objects.get(user=user).cohort).user
    other_client = Client()
    other_client.force_login(other)
    full_after_one = {"INTERACTIVE_MAX_SESSIONS": "1"}
    with celery_worker(queues="interactive", pool="threads", env=full_after_one):
        # given the only kernel is held by one learner
        follow(user, base, run(client, base, ("a", "1")), until=finished(1))
        # when another learner runs a cell, and later the first learner's kernel ends
        events = follow(
            other, base, run(other_client, base, ("b", "2 + 2")), Seen(queued),
            lambda: client.post(base + "kernel/restart"),
            until=finished(1),
        )  # fmt: skip
    # then the second learner saw their place in line, then their cell ran
    place = next(e for e in events if e.get("state") == "queued")
    assert place["place"] == 1 and place["eta_s"] >= 1
    assert {"type": "text", "text": "4"} in outputs(events)


def test_a_learner_at_their_own_limit_on_a_full_worker_does_not_wait(page, settings) -> None:
    user, first, base, client = page
    exercise_create(module=first.module, title="Add 2", slug="add-2",
                    notebook=as_json(add_exercise()))  # fmt: skip
    other_base = base.replace("/add/", "/add-2/")
    one_each = {"INTERACTIVE_MAX_SESSIONS": "1", "INTERACTIVE_SESSIONS_PER_LEARNER": "1"}
    settings.INTERACTIVE_SESSIONS_PER_LEARNER = 1
    with celery_worker(queues="interactive", pool="threads", env=one_each):
        # given the worker's only kernel is the learner's own, in the first exercise
        follow(user, base, run(client, base, ("a", "1")), until=finished(1))
        # when the learner runs a cell in a second exercise
        events = follow(
            user, other_base, run(client, other_base, ("b", "2 + 2")), until=finished(1)
        )  # fmt: skip
    # then the first kernel closed to make room and the cell ran, without a place in line
    assert {"type": "text", "text": "4"} in outputs(events)
    assert not queued(events)
    assert sessions.session_holder(learner_id=user.pk, exercise_id=first.pk) is None


def test_a_first_run_sent_to_a_worker_killed_before_it_took_it_runs_on_another(page) -> None:
    user, exercise, base, client = page
    # given a worker killed while its last report still says it is alive
    with celery_worker(queues="interactive", pool="threads", name="first@localhost") as first:
        _reported("first@localhost")
        first.kill()
        first.wait()
    # when a learner's first run is sent to it, and it is then seen dead
    run(client, base, ("a", "print(6 * 7)"))()
    assert sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk) is None
    routing.worker_report(
        worker="first@localhost", held=0, capacity=4, now=time.time() - routing.STALE_AFTER_S - 1
    )
    with celery_worker(queues="interactive", pool="threads", name="second@localhost"):
        # then the beat sends the run to a live worker, where it runs
        events = follow(user, base, sessions.sessions_rescue_starting, until=finished(1))
        assert {"type": "stream", "name": "stdout", "text": "42\n"} in outputs(events)
        assert sessions.session_holder(learner_id=user.pk, exercise_id=exercise.pk) == (
            "second@localhost"
        )


def test_cells_interrupted_before_they_started_do_not_run(page) -> None:
    user, _exercise, base, client = page
    # given a learner's cells sent while no worker has taken them yet
    run(client, base, ("a", "print('ran')"), ("b", "print('ran too')"))()
    # when the learner interrupts, then a worker takes the cells
    assert client.post(base + "kernel/interrupt").json() == {"interrupted": False}
    with ExitStack() as workers:
        start = lambda: workers.enter_context(celery_worker(queues="interactive", pool="threads"))  # noqa: E731
        events = follow(user, base, start, until=finished(2))
        # then neither ran, and the page is told why
        skipped = [e for e in events if e.get("state") == "skipped"]
        assert [(e["cell"], e.get("reason")) for e in skipped] == [
            ("a", "interrupted"),
            ("b", "interrupted"),
        ]
        assert outputs(events) == []
        # and a cell sent afterwards runs
        after = follow(user, base, run(client, base, ("c", "print('ran')")), until=finished(1))
        assert {"type": "stream", "name": "stdout", "text": "ran\n"} in outputs(after)


def _reported(worker: str) -> None:
    """Wait until `worker` has reported its load (it does once it is ready)."""
    deadline = time.monotonic() + 120  # only bounds a failing test
    while not any(load.name == worker for load in routing.workers_load()):
        assert time.monotonic() < deadline, f"{worker} never reported"
        time.sleep(0.1)


def test_runs_sent_to_the_holders_own_queue_leave_no_delivery_bookkeeping(page) -> None:
    user, _exercise, base, client = page
    seen: list[str] = []
    done = threading.Event()

    def watch(monitor) -> None:
        for command in monitor.listen():
            seen.append(command["command"])
            if done.is_set():
                return

    with celery_worker(queues="interactive", pool="threads", name="own@localhost"):
        follow(user, base, run(client, base, ("a", "x = 1")), until=finished(1))
        # Redis's MONITOR, on a connection of its own, sees every command from here on
        with redis.Redis.from_url(settings.REDIS_URL).monitor() as monitor:
            watcher = threading.Thread(target=watch, args=(monitor,), daemon=True)
            watcher.start()
            # when two more runs go to the worker that holds the session (its own queue)
            second = follow(user, base, run(client, base, ("b", "x + 1")), until=finished(1))
            third = follow(user, base, run(client, base, ("c", "x + 2")), until=finished(1))
            done.set()
            redis_client().ping()  # one more command: the watcher sees `done`
            watcher.join(timeout=60)
    assert {"type": "text", "text": "2"} in outputs(second)
    assert {"type": "text", "text": "3"} in outputs(third)
    # then each was taken off the queue, and nothing was put among kombu's unacked messages
    # or taken out of them (a message taken with acknowledgement is kept there until acked)
    taken = [c for c in seen if c.startswith("BRPOP") and "own@localhost.dq" in c]
    assert taken, seen
    bookkeeping = [
        c for c in seen if c.split()[0] in ("ZADD", "HSET", "ZREM", "HDEL") and "unacked" in c
    ]
    assert not bookkeeping, bookkeeping
