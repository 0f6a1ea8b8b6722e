"""Accepted means graded: the outbox, the graders' heartbeats and the sweep.

The database is the source of truth and the broker only carries ids, so whatever a fault
loses is found again from the rows:

- the outbox: a submission records when its message was sent (`enqueued_at`, written with
  the row itself, so that a submit is one write). A send that fails (Redis down) empties it
  and the sweep sends it again once the broker is back; a message lost with the broker (a
  restart without persistence) or never sent (the web process died right after the commit)
  is sent again when the grading queue is empty but submissions still wait;
- heartbeats: a worker grading a submission refreshes its `heartbeat_at` every
  GRADING_HEARTBEAT_S. A RUNNING submission whose heartbeat is older than
  GRADING_HEARTBEAT_STALE_S lost its worker (a killed pool child, a dead host): it goes
  back to QUEUED at once instead of after a long timeout;
- the sweep runs every GRADING_SWEEP_S (Celery beat) and does both.

A submission sent twice is still graded once: the claim is a conditional update and only
the current claim may save a grade (courses.grading.services).
"""

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import redis
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import KombuError

from courses import queues
from courses.models import Submission, SubmissionStatus

log = logging.getLogger(__name__)

# What a broker that cannot be reached raises (kombu wraps redis-py's errors, mostly).
BROKER_ERRORS = (KombuError, redis.RedisError, OSError)


def enqueue(submission_id: int) -> bool:
    """Send the submission's grading message now and record it; False when the broker
    cannot be reached (the sweep sends it later: the submission is accepted all the same)."""
    try:
        queues.send(queues.GRADE_SUBMISSION, submission_id)
    except BROKER_ERRORS as exc:
        log.warning("submission %s not sent for grading yet: %s", submission_id, exc)
        return False
    try:
        Submission.objects.filter(pk=submission_id, status=SubmissionStatus.QUEUED).update(
            enqueued_at=timezone.now()
        )
    except DatabaseError as exc:
        # Sent, but not recorded (SQLite's write lock taken too long by a burst): the
        # submission is saved and on its way, so its learner must not get an error. The
        # sweep may send it again; the claim grades it once.
        log.warning("submission %s sent, not recorded as sent: %s", submission_id, exc)
    return True


def send_on_commit(submission_id: int) -> None:
    """Send the grading message of a submission written as sent (`enqueued_at` set in the
    same write: a submit takes SQLite's write lock once, not twice) once the transaction
    commits. When the broker cannot be reached, the row is marked unsent, for the sweep."""
    transaction.on_commit(lambda: _send_written(submission_id))


def _send_written(submission_id: int) -> None:
    try:
        queues.send(queues.GRADE_SUBMISSION, submission_id)
    except BROKER_ERRORS as exc:
        log.warning("submission %s not sent for grading yet: %s", submission_id, exc)
        try:
            mark_unsent(submission_id)
        except DatabaseError as error:
            # Saved, not sent, and still marked as sent: the sweep sends it again once the
            # grading queue is empty (_send_lost). The learner's submission stands.
            log.warning("submission %s not marked unsent: %s", submission_id, error)


def mark_unsent(submission_id: int) -> None:
    """Its message could not be sent: the sweep sends it."""
    Submission.objects.filter(pk=submission_id, status=SubmissionStatus.QUEUED).update(
        enqueued_at=None
    )


@contextlib.contextmanager
def heartbeat(*, submission_id: int, token: datetime) -> Iterator[None]:
    """While the block runs, say every GRADING_HEARTBEAT_S that this claim's worker is
    alive. The beat stops with the block, and with the process when it is killed."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.GRADING_HEARTBEAT_S):
                try:
                    Submission.objects.filter(
                        pk=submission_id, status=SubmissionStatus.RUNNING, started_at=token
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError as exc:  # a missed beat, never a failed grading
                    log.warning("heartbeat of submission %s missed: %s", submission_id, exc)
                    connection.close()  # the next beat connects again
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{submission_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def sweep(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Find accepted work that no worker will finish and send it again."""
    now = now or timezone.now()
    orphaned = _requeue_orphaned(now=now)
    unsent = _send_unsent(now=now)
    lost = _send_lost(now=now)
    return {"orphaned": orphaned, "unsent": unsent, "lost": lost}


def _requeue_orphaned(*, now: datetime) -> list[int]:
    """RUNNING with no heartbeat for GRADING_HEARTBEAT_STALE_S (its worker is gone), or for
    longer than any grading may take: back to QUEUED, sent again."""
    stale = now - timedelta(seconds=settings.GRADING_HEARTBEAT_STALE_S)
    too_long = now - timedelta(seconds=settings.GRADING_STUCK_AFTER_S)
    orphaned = Q(status=SubmissionStatus.RUNNING) & (
        Q(heartbeat_at__lt=stale)
        | Q(heartbeat_at__isnull=True, started_at__lt=stale)
        | Q(started_at__lt=too_long)
    )
    requeued = []
    for submission_id in Submission.objects.filter(orphaned).values_list("pk", flat=True):
        if Submission.objects.filter(orphaned, pk=submission_id).update(
            status=SubmissionStatus.QUEUED, enqueued_at=None
        ):
            requeued.append(submission_id)
            enqueue(submission_id)
    return requeued


def _send_unsent(*, now: datetime) -> list[int]:
    """QUEUED whose message never reached the broker (a little while ago: the web sends
    its own right after commit)."""
    before = now - timedelta(seconds=settings.GRADING_UNSENT_AFTER_S)
    ids = Submission.objects.filter(
        status=SubmissionStatus.QUEUED, enqueued_at__isnull=True, created_at__lt=before
    ).values_list("pk", flat=True)
    return [submission_id for submission_id in ids if enqueue(submission_id)]


def _send_lost(*, now: datetime) -> list[int]:
    """QUEUED, sent a while ago, while the grading queue holds nothing: the broker lost the
    messages (it restarted empty). While the queue holds messages, waiting is normal."""
    before = now - timedelta(seconds=settings.GRADING_RESEND_AFTER_S)
    waiting = Submission.objects.filter(status=SubmissionStatus.QUEUED, enqueued_at__lt=before)
    if not waiting.exists() or grading_queue_length() != 0:
        return []
    ids = waiting.values_list("pk", flat=True)
    return [submission_id for submission_id in ids if enqueue(submission_id)]


def grading_queue_length() -> int | None:
    """Messages waiting in the grading queue (None when the broker cannot be asked)."""
    try:
        with current_app.connection_for_read() as connection:
            channel: Any = connection.default_channel
            declared = channel.queue_declare(queue=queues.GRADING)
            return int(declared.message_count)
    except BROKER_ERRORS:
        return None
