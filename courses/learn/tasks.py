"""Celery tasks of live notebook sessions (see courses.learn.sessions for the design).

A session's requests go to the queue of the worker that holds it (Celery's worker-direct
queue, `<nodename>.dq`); a request for a session nobody holds yet goes to the shared
`interactive` queue. They are not acked late: re-running a learner's cell in another
kernel after a worker died would be wrong; the page reports the lost kernel instead.
A worker takes the messages of its own queue without acknowledgement at all (kombu's
`no_ack`): a message taken is the worker's, as an acked one is, without the two extra Redis
round trips per cell of kombu's delivery bookkeeping.
"""

import logging
from typing import Any

from billiard.process import current_process
from celery import shared_task
from celery.app.task import Task
from celery.signals import celeryd_after_setup, worker_ready, worker_shutdown
from celery.utils.nodenames import worker_direct
from django.conf import settings

from courses import queues
from courses.learn import holder, sessions, starting
from sandbox import SandboxError

logger = logging.getLogger(__name__)
TASK_OPTIONS: dict[str, Any] = {"acks_late": False, "ignore_result": True, "bind": True}


def _can_hold_sessions() -> bool:
    """True in a worker that runs tasks in threads of one process (or solo). A prefork
    child cannot hold a session: the worker's queue feeds its siblings too."""
    return bool(current_process().name == "MainProcess")


@shared_task(name=queues.INTERACTIVE_RUN, **TASK_OPTIONS)
def interactive_run(
    self: Task,
    learner_id: int,
    exercise_id: int,
    runs: list[dict[str, str]],
    since: float | None = None,
    noted: bool = False,
) -> None:
    """`noted`: the web noted this message to start the session (courses.learn.starting);
    only such a message can have been sent again elsewhere, its worker taken for dead."""
    if not _can_hold_sessions():
        logger.error("interactive sessions need a worker started with -P threads")
        sessions.publish(
            learner_id, exercise_id, {"type": "kernel", "state": "unavailable", "reason": "pool"}
        )
        sessions.publish_skipped(learner_id, exercise_id, runs)
        return
    worker = str(self.request.hostname)
    if noted and self.request.id and starting.moved(self.request.id):
        return  # this worker was taken for dead and the runs went elsewhere
    try:
        holder.session_run(
            learner_id=learner_id, exercise_id=exercise_id, worker=worker, runs=runs, since=since
        )
    except holder.NotHere as moved:
        sessions.send("run", learner_id, exercise_id, worker=moved.worker, runs=runs)
    except SandboxError:
        # Already announced to the page ("unavailable"); the cells did not run.
        sessions.publish_skipped(learner_id, exercise_id, runs)


@shared_task(name=queues.INTERACTIVE_INTERRUPT, **TASK_OPTIONS)
def interactive_interrupt(self: Task, learner_id: int, exercise_id: int) -> None:
    holder.session_interrupt(learner_id=learner_id, exercise_id=exercise_id)


@shared_task(name=queues.INTERACTIVE_STOP, **TASK_OPTIONS)
def interactive_stop(
    self: Task,
    learner_id: int,
    exercise_id: int,
    sid: str,
    reason: str,
    idle_s: float | None = None,
) -> None:
    holder.session_stop(
        learner_id=learner_id, exercise_id=exercise_id, sid=sid, reason=reason, idle_s=idle_s
    )


@shared_task(name=queues.INTERACTIVE_RESCUE_STARTING, acks_late=False, ignore_result=True)
def interactive_rescue_starting() -> int:
    return sessions.sessions_rescue_starting()


@shared_task(name=queues.INTERACTIVE_CULL_IDLE, acks_late=False, ignore_result=True)
def interactive_cull_idle() -> int:
    return sessions.sessions_cull_idle(
        idle_s=settings.INTERACTIVE_IDLE_TIMEOUT_S, warn_s=settings.INTERACTIVE_IDLE_WARNING_S
    )


@celeryd_after_setup.connect
def _own_queue_without_acks(sender: str, instance: Any, **kwargs: Any) -> None:
    """The worker's own queue (`<nodename>.dq`, consumed when worker_direct is on) is
    consumed with no_ack. Only that queue: on the shared `interactive` queue, kombu's
    prefetch limit keeps one worker from taking every new session's first runs."""
    own = instance.app.amqp.queues.consume_from.get(worker_direct(sender).name)
    if own is not None:
        own.no_ack = True


@worker_ready.connect
def _report_load(sender: Any, **kwargs: Any) -> None:
    """A worker that takes interactive sessions says so from the start (courses.routing)."""
    consumed = {queue.name for queue in sender.task_consumer.queues}
    # A prefork pool's children cannot hold sessions (see _can_hold_sessions).
    in_threads = "prefork" not in type(sender.pool).__module__
    if queues.INTERACTIVE in consumed and in_threads:
        holder.start_reporting(str(sender.hostname))


@worker_shutdown.connect
def _stop_sessions(**kwargs: Any) -> None:
    holder.stop_all()
