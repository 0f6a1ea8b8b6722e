"""A whole grading worker killed mid-grading (its main process and its pool), then a new
worker started, as the supervisor does: the submission is graded once, with the right
score. (Its own module: no other worker of this test process may consume the queue.)"""

import os
import signal
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from courses.grading import recovery, services
from courses.models import GradeRecord, Submission, SubmissionStatus
from tests.courses.grading.test_recovery import (  # noqa: F401 - setup is a fixture
    SLOW_RIGHT,
    _children,
    _wait_until,
    setup,
)
from tests.support.exercises import add_exercise, answered
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
    pytest.mark.django_db(transaction=True),
]


def test_a_killed_worker_loses_nothing_and_its_replacement_grades_once(setup) -> None:  # noqa: F811
    enrollment, exercise, _ = setup
    with celery_worker(queues="grading,default", pool="prefork", name="doomed@localhost") as first:
        submission = services.submission_create(
            learner=enrollment.user,
            exercise=exercise,
            notebook=answered(add_exercise(), add=SLOW_RIGHT),
        )
        _wait_until(
            lambda: Submission.objects.get(pk=submission.pk).status == SubmissionStatus.RUNNING
        )
        # when the worker dies with its pool (the cell sleeps 8 s: it is mid-run)
        pool = _children(first.pid)
        os.kill(first.pid, signal.SIGKILL)
        for child in pool:
            os.kill(child, signal.SIGKILL)
        first.wait()
    # then a new worker (the supervisor's restart) and the sweep finish it, once
    with celery_worker(queues="grading,default", pool="prefork", name="second@localhost"):
        later = timezone.now() + timedelta(seconds=settings.GRADING_HEARTBEAT_STALE_S + 1)
        assert recovery.sweep(now=later)["orphaned"] == [submission.pk]
        _wait_until(lambda: Submission.objects.get(pk=submission.pk).status in services.TERMINAL)
    submission.refresh_from_db()
    assert (submission.status, str(submission.score)) == (SubmissionStatus.GRADED, "3.00")
    assert GradeRecord.objects.filter(submission=submission).count() == 1
