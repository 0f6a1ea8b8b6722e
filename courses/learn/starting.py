"""Runs sent to start a session, until a worker takes them: none is lost with a dead worker.

A new session's first runs go to the least loaded worker's own queue (courses.routing). A
worker killed in the seconds before its silence marks it dead (routing.STALE_AFTER_S)
would keep them in its queue for ever, and the learner's page would wait. So the web notes
each such message here (a list per session, kept as long as the message may wait) until a
worker finds the session's record: claimed by itself or by another, it is then a session
like any other, whose worker's death is reported to the page (courses.learn.sessions).

The beat takes the notes of dead workers (sessions.sessions_rescue_starting) and sends
their runs again to a live worker. The message left in the dead worker's queue is marked as
moved (by its task id): should that worker come back under its own name while the message
waits there, it drops it instead of running those cells a second time.
"""

import json
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from campus.redis_client import redis_client
from courses import routing

NOTES_PREFIX = "interactive:starting:"


def _notes_key(learner_id: int, exercise_id: int) -> str:
    return f"{NOTES_PREFIX}{learner_id}:{exercise_id}"


def _moved_key(task_id: str) -> str:
    return f"interactive:moved:{task_id}"


def note(
    *, learner_id: int, exercise_id: int, worker: str, task_id: str, runs: list[dict[str, str]]
) -> None:
    """The web sent `runs` to `worker`'s queue, as task `task_id`, to start the session."""
    key = _notes_key(learner_id, exercise_id)
    pipe = redis_client().pipeline()
    pipe.rpush(key, json.dumps({"worker": worker, "task": task_id, "runs": runs}))
    pipe.expire(key, settings.INTERACTIVE_REQUEST_EXPIRES_S)
    pipe.execute()


def found(*, learner_id: int, exercise_id: int) -> None:
    """A worker found the session's record: its notes are no longer needed."""
    redis_client().delete(_notes_key(learner_id, exercise_id))


def moved(task_id: str) -> bool:
    """Whether the message of task `task_id` was sent again elsewhere, its worker dead."""
    return bool(redis_client().exists(_moved_key(task_id)))


def take_dead(*, now: float | None = None) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """(learner id, exercise id, runs) of each noted message whose worker is dead, taken
    (by exactly one caller) and marked as moved."""
    client = redis_client()
    now = now or time.time()
    for key in client.scan_iter(match=f"{NOTES_PREFIX}*", count=500):
        learner_id, exercise_id = (int(part) for part in key.decode().split(":")[2:4])
        raw_notes: list[bytes] = client.lrange(key, 0, -1)  # type: ignore[assignment]
        for raw in raw_notes:
            entry = json.loads(raw)
            if not routing.worker_is_dead(entry["worker"], now=now):
                continue
            # Marked first: the worker, back under its name, may take the message at once.
            client.set(_moved_key(entry["task"]), 1, ex=settings.INTERACTIVE_REQUEST_EXPIRES_S)
            if not client.lrem(key, 1, raw.decode()):
                continue  # another caller took it
            yield learner_id, exercise_id, entry["runs"]
