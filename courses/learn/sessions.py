"""Interactive kernel sessions: a learner's live kernel for one exercise.

One Celery worker holds a session (the kernel lives in that worker's process); a record in
Redis names the worker, so every request about the session is a task sent to that
worker's own queue. The first request goes to the shared `interactive` queue and whichever
worker takes it claims the session (SET NX: exactly one winner). Outputs are sanitised in
the worker and published on the session's Redis channel, which the page follows over SSE.

Holders must run tasks in threads of one process (`celery worker -P threads`): with the
prefork pool, the worker's queue feeds several processes and the kernel would be out of
reach of most of them, and an interrupt must run while the cell's task is still busy.

Events on the channel (JSON, `type` first):
    kernel  state: starting | ready | restarted | dead | culled | stopped | busy | unavailable
    run     run, cell, state: running | done | error | skipped, count
    output  run, cell, output (see courses.safe_outputs)
Messages are codes: the page shows them in the learner's language.
"""

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings

from courses import progress
from courses.models import Cohort, Enrollment, Exercise
from courses.safe_outputs import safe_output
from courses.sandboxing import expose_gateway, grant_models
from gateway.services import grant_revoke
from sandbox import KernelPool, Limits, SandboxError, Session

SHARED_QUEUE = "interactive"
STOP_WAIT_S = 10.0  # how long a stop waits for the running cell's thread to let go


def record_key(learner_id: int, exercise_id: int) -> str:
    return f"interactive:session:{learner_id}:{exercise_id}"


def channel_name(learner_id: int, exercise_id: int) -> str:
    return f"interactive:{learner_id}:{exercise_id}:events"


def interactive_limits() -> Limits:
    return Limits(
        memory_mb=settings.INTERACTIVE_MEMORY_MB,
        cpu_seconds=settings.INTERACTIVE_CPU_SECONDS,
        cell_timeout_s=settings.INTERACTIVE_CELL_TIMEOUT_S,
        total_timeout_s=settings.INTERACTIVE_CELL_TIMEOUT_S,
    )


def publish(learner_id: int, exercise_id: int, event: dict[str, Any]) -> None:
    """Best effort, like submission progress: a lost event never breaks a session."""
    with contextlib.suppress(redis.RedisError):
        progress.client().publish(channel_name(learner_id, exercise_id), json.dumps(event))


def _record(learner_id: int, exercise_id: int) -> dict[str, Any] | None:
    raw = progress.client().get(record_key(learner_id, exercise_id))
    return json.loads(raw) if raw else None


def _record_ttl() -> int:
    # A backstop for records of workers that died: the culler normally ends sessions first.
    return settings.INTERACTIVE_IDLE_TIMEOUT_S + 300


# ------------------------------------------------------------------- the web's side


def session_holder(*, learner_id: int, exercise_id: int) -> str | None:
    """The worker that holds the session, if any."""
    record = _record(learner_id, exercise_id)
    return record["worker"] if record else None


def session_run_request(
    *, learner_id: int, exercise_id: int, cells: list[tuple[str, str]]
) -> list[str]:
    """Run cells (key, code) in order in the learner's session; one run id per cell.
    The session starts on first use; a failing cell skips the rest."""
    runs = [{"run": uuid.uuid4().hex, "cell": key, "code": code} for key, code in cells]
    _send("run", learner_id, exercise_id, runs=runs)
    return [run["run"] for run in runs]


def session_interrupt_request(*, learner_id: int, exercise_id: int) -> bool:
    """Interrupt the running cell; False when there is no session."""
    if session_holder(learner_id=learner_id, exercise_id=exercise_id) is None:
        return False
    _send("interrupt", learner_id, exercise_id)
    return True


def session_restart_request(*, learner_id: int, exercise_id: int) -> None:
    """A fresh kernel. The record is dropped first, so a restart also recovers a session
    whose worker is gone: the next run starts a new session on any live worker."""
    record = _record(learner_id, exercise_id)
    progress.client().delete(record_key(learner_id, exercise_id))
    if record is not None:
        _send("stop", learner_id, exercise_id, worker=record["worker"], sid=record["sid"],
              reason="restarted")  # fmt: skip
    publish(learner_id, exercise_id, {"type": "kernel", "state": "restarted"})


def _send(action: str, learner_id: int, exercise_id: int, *, worker: str | None = None,
          **kwargs: Any) -> None:  # fmt: skip
    from courses import tasks_interactive

    worker = worker or session_holder(learner_id=learner_id, exercise_id=exercise_id)
    tasks_interactive.send(action, learner_id, exercise_id, worker=worker, **kwargs)


def sessions_cull_idle(*, idle_s: float, now: float | None = None) -> int:
    """Beat: ask holders to stop sessions idle for `idle_s`; returns how many were asked."""
    now = now or time.time()
    client = progress.client()
    asked = 0
    for key in client.scan_iter(match="interactive:session:*", count=500):
        raw = client.get(key)
        if not raw:
            continue
        record = json.loads(raw)
        if now - float(record.get("last_activity", 0)) >= idle_s:
            learner_id, exercise_id = (int(part) for part in key.decode().split(":")[2:4])
            _send(
                "stop",
                learner_id,
                exercise_id,
                worker=record["worker"],
                sid=record["sid"],
                reason="culled",
                idle_s=idle_s,
            )
            asked += 1
    return asked


# ---------------------------------------------------------------- the holder's side


@dataclass
class Held:
    session: Session
    learner_id: int
    exercise_id: int
    worker: str
    sid: str  # the record's session id: a restart makes a new one
    course_id: int | None = None
    cohort: Cohort | None = None
    busy: threading.Lock = field(default_factory=threading.Lock)


_held: dict[tuple[int, int], Held] = {}
_held_lock = threading.Lock()
_pool: KernelPool | None = None


def _kernel_pool() -> KernelPool:
    global _pool
    with _held_lock:
        if _pool is None:
            expose_gateway()
            _pool = KernelPool(size=settings.INTERACTIVE_POOL_SIZE, limits=interactive_limits())
            _pool.start()
        return _pool


def _save_record(held: Held) -> None:
    record = {"worker": held.worker, "sid": held.sid, "last_activity": held.session.last_activity}
    progress.client().set(
        record_key(held.learner_id, held.exercise_id), json.dumps(record), ex=_record_ttl()
    )
    _grant_models(held)


def _grant_models(held: Held) -> None:
    """While the session lives (renewed with its record), its kernel may call the model
    gateway as the learner: the gateway knows the kernel by its slot uid."""
    kernel = held.session.kernel
    if kernel is not None and kernel.uid is not None:
        grant_models(
            uid=kernel.uid,
            user_id=held.learner_id,
            course_id=held.course_id,
            cohort=held.cohort,
            ttl_s=_record_ttl(),
        )


def _claim(learner_id: int, exercise_id: int, worker: str) -> dict[str, Any]:
    """The session's record after trying to create it (exactly one worker wins)."""
    record = {"worker": worker, "sid": uuid.uuid4().hex, "last_activity": time.time()}
    key = record_key(learner_id, exercise_id)
    if progress.client().set(key, json.dumps(record), nx=True, ex=_record_ttl()):
        return record
    return _record(learner_id, exercise_id) or _claim(learner_id, exercise_id, worker)


class NotHere(Exception):
    """The session is held by another worker: the request must go there."""

    def __init__(self, worker: str) -> None:
        super().__init__(worker)
        self.worker = worker


def held_session(*, learner_id: int, exercise_id: int, worker: str) -> Held | None:
    """This worker's session, started (and claimed) when there is none anywhere. Raises
    NotHere when another worker holds it; None when no kernel can be started here."""
    key = (learner_id, exercise_id)
    record = _claim(learner_id, exercise_id, worker)
    if record["worker"] != worker:
        raise NotHere(record["worker"])
    held = _held.get(key)
    if held is not None and held.sid == record["sid"]:
        return held
    if held is not None:  # restarted meanwhile: that kernel is no longer the session's
        _end(held, state="")
    if len(_held) >= settings.INTERACTIVE_MAX_SESSIONS:
        progress.client().delete(record_key(learner_id, exercise_id))
        publish(learner_id, exercise_id, {"type": "kernel", "state": "busy"})
        return None
    publish(learner_id, exercise_id, {"type": "kernel", "state": "starting"})
    session = Session(limits=interactive_limits(), pool=_kernel_pool())
    try:
        session.start()
    except SandboxError:
        progress.client().delete(record_key(learner_id, exercise_id))
        publish(learner_id, exercise_id, {"type": "kernel", "state": "unavailable"})
        raise
    course_id = (
        Exercise.objects.filter(pk=exercise_id).values_list("module__course_id", flat=True).first()
    )
    enrollment = (
        Enrollment.objects.filter(user_id=learner_id, cohort__course_id=course_id)
        .select_related("cohort")
        .first()
        if course_id is not None
        else None
    )
    held = Held(
        session,
        learner_id,
        exercise_id,
        worker=worker,
        sid=record["sid"],
        course_id=course_id,
        cohort=enrollment.cohort if enrollment else None,
    )
    with _held_lock:
        _held[key] = held
    _save_record(held)
    publish(learner_id, exercise_id, {"type": "kernel", "state": "ready"})
    return held


def session_run(
    *, learner_id: int, exercise_id: int, worker: str, runs: list[dict[str, str]]
) -> None:
    """Run cells one after the other, streaming their outputs; stop at the first failure."""
    held = held_session(learner_id=learner_id, exercise_id=exercise_id, worker=worker)
    if held is None:
        publish_skipped(learner_id, exercise_id, runs)
        return
    with held.busy:
        for position, run in enumerate(runs):
            if not _run_one(held, run):
                publish_skipped(learner_id, exercise_id, runs[position + 1 :])
                break
        if _held.get((learner_id, exercise_id)) is held:
            _save_record(held)


def _run_one(held: Held, run: dict[str, str]) -> bool:
    ids = {"run": run["run"], "cell": run["cell"]}

    def send(event: dict[str, Any]) -> None:
        publish(held.learner_id, held.exercise_id, {**event, **ids})

    def on_output(output: dict[str, Any]) -> None:
        shown = safe_output(output)
        if shown is not None:
            send({"type": "output", "output": shown})

    kernel = held.session.kernel
    send({"type": "run", "state": "running"})
    result = held.session.execute(run["code"], on_output=on_output)
    count = held.session.execution_count
    duration_ms = round(result.duration_s * 1000, 1)
    if result.status == "ok":
        send({"type": "run", "state": "done", "count": count, "duration_ms": duration_ms})
        return True
    send({"type": "run", "state": "error", "count": count, "status": result.status,
          "duration_ms": duration_ms})  # fmt: skip
    if _held.get((held.learner_id, held.exercise_id)) is not held:
        return False  # stopped or restarted meanwhile: the page was told
    if held.session.kernel is kernel and not held.session.is_alive():
        reason = kernel.stopped_by if kernel is not None else None
        _end(held, state="dead", reason=reason or "dead", wait=False)
    return False


def publish_skipped(learner_id: int, exercise_id: int, runs: list[dict[str, str]]) -> None:
    for run in runs:
        publish(
            learner_id,
            exercise_id,
            {"type": "run", "state": "skipped", "run": run["run"], "cell": run["cell"]},
        )


def _end(held: Held, *, state: str, reason: str = "", wait: bool = True) -> None:
    """Stop the kernel and forget the session; its record goes too if still this one's.
    `state` is announced to the page (nothing when empty). With `wait`, a cell running in
    another thread is ended first: its kernel is killed (a signal: safe from any thread)
    and its thread lets go before the kernel's sockets close (zmq sockets are not)."""
    with _held_lock:
        if _held.get((held.learner_id, held.exercise_id)) is held:
            del _held[(held.learner_id, held.exercise_id)]
    kernel = held.session.kernel
    if wait and kernel is not None and held.busy.locked():
        kernel.kill_for("stopped")
        if held.busy.acquire(timeout=STOP_WAIT_S):
            held.busy.release()
    uid = kernel.uid if kernel is not None else None
    held.session.stop()
    if uid is not None:
        grant_revoke(uid=uid)
    record = _record(held.learner_id, held.exercise_id)
    if record and record["sid"] == held.sid:
        progress.client().delete(record_key(held.learner_id, held.exercise_id))
    if state:
        event = {"type": "kernel", "state": state}
        if reason:
            event["reason"] = reason
        publish(held.learner_id, held.exercise_id, event)


def session_interrupt(*, learner_id: int, exercise_id: int) -> None:
    held = _held.get((learner_id, exercise_id))
    if held is not None:
        held.session.interrupt()


def session_stop(
    *, learner_id: int, exercise_id: int, sid: str, reason: str, idle_s: float | None = None
) -> bool:
    """Stop session `sid` if this worker holds it. A session to cull is spared when it was
    used since the culler looked, or is running a cell. A restart does not wait for a
    running cell: stopping its kernel ends it."""
    held = _held.get((learner_id, exercise_id))
    if held is None or held.sid != sid:
        return False
    if reason == "culled":
        idle_s = idle_s if idle_s is not None else settings.INTERACTIVE_IDLE_TIMEOUT_S
        if held.busy.locked() or time.time() - held.session.last_activity < idle_s:
            return False
    # The page already said "restarted"; a culled session says why it ended.
    _end(held, state="culled" if reason == "culled" else "")
    return True


def stop_all() -> None:
    """The worker is shutting down: its kernels go with it, and so do their records."""
    for held in list(_held.values()):
        _end(held, state="stopped")
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None
