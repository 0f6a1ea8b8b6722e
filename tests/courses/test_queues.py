"""Work is sent by name, after commit, to tasks the workers really load."""

import importlib

import pytest
from celery import current_app

from courses import queues

TASK_NAMES = {
    value
    for name, value in vars(queues).items()
    if name.isupper() and isinstance(value, str) and value.startswith("courses.tasks.")
}


def test_every_task_name_is_a_task_that_workers_load(settings) -> None:
    for module in settings.CELERY_IMPORTS:
        importlib.import_module(module)
    assert len(TASK_NAMES) == 10
    assert set(current_app.tasks) >= TASK_NAMES
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {n for n in scheduled if n.startswith("courses.")} <= TASK_NAMES


@pytest.mark.django_db
def test_work_is_sent_only_once_its_transaction_commits(
    monkeypatch, django_capture_on_commit_callbacks
) -> None:
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **o: sent.append((name, o)))
    with django_capture_on_commit_callbacks(execute=True):
        queues.enqueue_on_commit(queues.GRADE_SUBMISSION, 7)
        assert sent == []  # a worker must never see an id whose row is not committed
    options = {"args": (7,), "kwargs": {}, "ignore_result": True}
    shown = {"argsrepr": "(7,)", "kwargsrepr": "[]"}  # the call as logs show it: ids, names
    assert sent == [(queues.GRADE_SUBMISSION, options | shown)]
