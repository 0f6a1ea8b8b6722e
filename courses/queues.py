"""Celery task and queue names, and sending work to them by name.

Services enqueue by name, after their transaction commits, so nothing imports a tasks
module: tasks import services, never the reverse. The names are the ones the workers, the
beat schedule and the routes in settings already use, so messages in flight survive a
deploy.
"""

from typing import Any

from celery import current_app
from django.db import transaction
from kombu import Queue

# Queues (settings.CELERY_TASK_ROUTES sends grading and interactive tasks to theirs).
GRADING = "grading"
INTERACTIVE = "interactive"
DEFAULT = "default"
QUEUES = (GRADING, INTERACTIVE, DEFAULT)

# courses.grading.tasks
GRADE_SUBMISSION = "courses.tasks.grade_submission"
SWEEP_SUBMISSIONS = "courses.tasks.sweep_submissions"
VALIDATE_EXERCISE = "courses.tasks.validate_exercise"

# courses.environments.tasks
BUILD_ENVIRONMENT = "courses.tasks.build_environment"
COLLECT_ENVIRONMENTS = "courses.tasks.collect_environments"

# courses.learn.tasks
INTERACTIVE_RUN = "courses.tasks.interactive_run"
INTERACTIVE_INTERRUPT = "courses.tasks.interactive_interrupt"
INTERACTIVE_STOP = "courses.tasks.interactive_stop"
INTERACTIVE_CULL_IDLE = "courses.tasks.interactive_cull_idle"
INTERACTIVE_RESCUE_STARTING = "courses.tasks.interactive_rescue_starting"


def send(
    name: str,
    *args: Any,
    queue: str | Queue | None = None,
    expires: float | None = None,
    task_id: str | None = None,
    **kwargs: Any,
) -> None:
    """Send task `name` now (as `task_id` when given); `queue` (a name, or a kombu Queue
    such as a worker's own) overrides the route in settings."""
    # Fire and forget: nobody reads these tasks' results (the database holds the outcome),
    # and subscribing for one would tie the send to the result backend's connection.
    options: dict[str, Any] = {"ignore_result": True}
    # What logs and events show of the call: the ids as they are, the keyword arguments by
    # name only. Celery's abridged repr of a learner's cells was a fifth of a run's send,
    # and their code has no business in a log.
    options["argsrepr"] = repr(args)
    options["kwargsrepr"] = repr(sorted(kwargs))
    if queue is not None:
        options["queue"] = queue
    if expires is not None:
        options["expires"] = expires
    if task_id is not None:
        options["task_id"] = task_id
    current_app.send_task(name, args=args, kwargs=kwargs, **options)


def enqueue_on_commit(name: str, *args: Any, queue: str | None = None) -> None:
    """Send task `name` once the current transaction commits: a worker never sees an id
    whose row is not written yet (or was rolled back)."""
    transaction.on_commit(lambda: send(name, *args, queue=queue))
