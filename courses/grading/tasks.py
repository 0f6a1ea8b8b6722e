"""Celery tasks of grading: thin; they take ids, call one service and own their retry policy.

Services send these by name (courses.queues); workers load this module from CELERY_IMPORTS.
"""

from typing import Any

from celery import shared_task
from celery.app.task import Task
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutdown
from celery.worker.control import inspect_command
from django.conf import settings

from courses import queues
from courses.grading import kernels, recovery, services, validation
from sandbox.trusted import warm_up


@shared_task(
    name=queues.GRADE_SUBMISSION,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def grade_submission(self: Task, submission_id: int) -> None:
    """Grade one submission: the learner's latest queued one of the exercise first
    (services.submission_grade_next). A lost worker redelivers the message (acks_late); the
    idempotent claim makes a second delivery a no-op. Our errors are retried with backoff,
    then the submission is flagged for staff."""
    try:
        services.submission_grade_next(
            submission_id=submission_id, worker=self.request.hostname or ""
        )
    except services.GradingFailed as failure:
        target, retries = failure.submission_id, self.request.retries
        if retries >= settings.GRADING_MAX_RETRIES:
            services.submission_flag_error(submission_id=target, error=str(failure))
            return
        try:
            raise self.retry(
                args=(target,), exc=failure, countdown=min(60, 2**retries)
            ) from failure
        except recovery.BROKER_ERRORS:
            # The retry could not be sent (Redis down): the sweep sends it once it is back.
            recovery.mark_unsent(target)
            raise


@shared_task(name=queues.SWEEP_SUBMISSIONS, acks_late=True)
def sweep_submissions() -> dict[str, list[int]]:
    """Accepted work that no worker will finish is sent again (courses.grading.recovery)."""
    return recovery.sweep()


@shared_task(name=queues.VALIDATE_EXERCISE, acks_late=True)
def validate_exercise(exercise_id: int, requested_by_id: int) -> None:
    """Grade an exercise's reference solution and student version (instructors' check)."""
    validation.validation_run(exercise_id=exercise_id, requested_by_id=requested_by_id)


@worker_process_init.connect
def _warm_up(**_: object) -> None:
    """Each worker process starts its kernel pool and its trusted runner's fork server at
    once, so the first learner does not pay for them."""
    kernels.kernel_pool()
    warm_up()


@worker_process_shutdown.connect  # a prefork child
@worker_shutdown.connect  # the worker itself (solo and threads pools hold kernels there)
def _close_pool(**_: object) -> None:
    """A worker that stops destroys its warm kernels itself, cgroups and directories
    included, before it lets their slot uids go (they would die with it, but later)."""
    kernels.close_pool()


@inspect_command()
def kernel_pool_stats(state: Any) -> dict[str, Any]:
    """This worker's warm grading kernels (the operations page asks every worker;
    `celery -A config inspect kernel_pool_stats` shows the same figures)."""
    return kernels.pool_stats()
