"""Runs sent to start a session on a worker that dies before taking them: taken once from
the dead worker's notes, and dropped by that worker should it come back under its name."""

import time
import uuid

import pytest

from courses import routing
from courses.learn import holder, sessions, starting
from courses.learn.tasks import interactive_run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_workers_known")]


def _runs() -> list[dict[str, str]]:
    return [{"run": uuid.uuid4().hex, "cell": "a", "code": "6 * 7"}]


def _dead(worker: str) -> None:
    """`worker` reported once, longer ago than a live worker's silence lasts."""
    routing.worker_report(
        worker=worker, held=0, capacity=4, now=time.time() - routing.STALE_AFTER_S - 1
    )


def test_a_dead_workers_notes_are_taken_once_and_a_live_workers_are_kept() -> None:
    _dead("gone@host")
    routing.worker_report(worker="alive@host", held=0, capacity=4)
    lost, kept = _runs(), _runs()
    starting.note(learner_id=1, exercise_id=2, worker="gone@host", task_id="t-lost", runs=lost)
    starting.note(learner_id=3, exercise_id=4, worker="alive@host", task_id="t-kept", runs=kept)
    assert list(starting.take_dead()) == [(1, 2, lost)]
    assert list(starting.take_dead()) == []
    assert starting.moved("t-lost") and not starting.moved("t-kept")


def test_a_worker_back_under_its_name_drops_the_message_sent_again_elsewhere(page) -> None:
    user, exercise, _base, _client = page
    _dead("gone@host")
    runs = _runs()
    starting.note(learner_id=user.pk, exercise_id=exercise.pk, worker="gone@host",
                  task_id="t-old", runs=runs)  # fmt: skip
    assert list(starting.take_dead()) == [(user.pk, exercise.pk, runs)]
    # when the old message is taken at last (here, in this process, as that worker would)
    interactive_run.apply(args=(user.pk, exercise.pk, runs), kwargs={"noted": True},
                          task_id="t-old")  # fmt: skip
    # then no session was started for it: its runs went elsewhere
    assert sessions.read_record(user.pk, exercise.pk) is None


def test_the_rescue_waits_while_no_worker_is_alive() -> None:
    _dead("gone@host")
    starting.note(learner_id=1, exercise_id=2, worker="gone@host", task_id="t", runs=_runs())
    assert sessions.sessions_rescue_starting() == 0
    assert not starting.moved("t")


def test_only_a_noted_message_is_looked_up_as_moved(monkeypatch) -> None:
    looked_up: list[str] = []
    ran: list[list[dict[str, str]]] = []

    def moved(task_id: str) -> bool:
        looked_up.append(task_id)
        return True

    monkeypatch.setattr(starting, "moved", moved)
    monkeypatch.setattr(holder, "session_run", lambda **kwargs: ran.append(kwargs["runs"]))
    to_holder, to_start = _runs(), _runs()
    # when a run comes to a session's holder (not noted: it is never sent again elsewhere),
    # then a run sent to start a session, whose message was sent again elsewhere
    interactive_run.apply(args=(1, 2, to_holder), task_id="t-run")
    interactive_run.apply(args=(1, 2, to_start), kwargs={"noted": True},
                          task_id="t-start")  # fmt: skip
    # then only the second costs a look-up, and only the first runs
    assert looked_up == ["t-start"]
    assert ran == [to_holder]
