"""Celery tasks of the LTI tool: thin; ids in, one service call, their own retry policy."""

from datetime import timedelta

from celery import shared_task
from celery.app.task import Task

from lti import grades, queues, roster
from lti.outbound import PlatformError

SEND_RETRIES = 5


@shared_task(name=queues.SCORES_SYNC_SUBMISSION, acks_late=True)
def scores_sync_submission(submission_id: int) -> list[int]:
    return grades.scores_record_for_submission(submission_id=submission_id)


@shared_task(name=queues.SCORES_SYNC_COURSE, acks_late=True)
def scores_sync_course(course_id: int) -> list[int]:
    return grades.scores_record_for_course(course_id=course_id)


@shared_task(name=queues.SCORE_SEND, bind=True, acks_late=True, max_retries=SEND_RETRIES)
def score_send(self: Task, score_post_id: int) -> bool:
    """Send one score. The LMS's errors are retried with backoff (1, 2, 4, 8, 16 min); a
    refusal that will not change (a 4xx) fails at once; the beat job retries failures."""
    try:
        return grades.score_send(score_post_id=score_post_id)
    except PlatformError as error:
        final = not error.retry or self.request.retries >= SEND_RETRIES
        grades.score_mark_failure(score_post_id=score_post_id, error=str(error), final=final)
        if final:
            return False
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error


@shared_task(name=queues.SCORES_RETRY_FAILED, acks_late=True)
def scores_retry_failed() -> list[int]:
    return grades.scores_retry_failed(older_than=timedelta(minutes=15))


@shared_task(name=queues.ROSTER_SYNC, bind=True, acks_late=True, max_retries=3)
def roster_sync(self: Task, context_id: int) -> dict[str, int]:
    try:
        changes = roster.roster_sync(context_id=context_id)
    except PlatformError as error:
        if not error.retry:
            raise
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error
    return {k: len(v) for k, v in vars(changes).items()}
