"""The holder's side of live notebook sessions: the worker that holds a learner's kernel.

A record in Redis names the worker that holds each session (courses.learn.sessions); this
module is that worker's part: it claims a session (SET NX: exactly one winner), keeps its
kernel, runs cells one after the other, streams their outputs (sanitised here, before they
leave the worker) and ends sessions that are stopped, restarted or idle. Its kernels may
call the model gateway as the learner while the session lives.
"""

import json
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from campus.models import User
from campus.redis_client import redis_client
from courses import routing
from courses.cohorts.quotas import QuotaKind, quota_record
from courses.environments.services import EnvironmentNotReady, environment_runtime
from courses.grading import kernels
from courses.html import safe_output
from courses.learn import capacity, starting
from courses.learn.sessions import (
    interrupted_before_start,
    learner_key,
    publish,
    publish_skipped,
    read_record,
    record_key,
    record_ttl,
    session_wait,
    sessions_close_least_recent,
    waiting_admit,
)
from courses.models import Cohort, Enrollment, Exercise
from gateway.services import grant_revoke
from sandbox import SandboxError, SandboxInfraError, Session

logger = logging.getLogger(__name__)
STOP_WAIT_S = 10.0  # how long a stop waits for the running cell's thread to let go
# The model grant is renewed with the record, at most this often: renewing reads the
# cohort's quota from the database, which a cell should not pay for every time.
GRANT_RENEW_S = 60.0
# How long a new session waits for a warm kernel: a class arriving on a busy host waits
# (its page says "starting") rather than being told the kernel could not start.
KERNEL_WAIT_S = 120.0


@dataclass
class Held:
    session: Session
    learner_id: int
    exercise_id: int
    worker: str
    sid: str  # the record's session id: a restart makes a new one
    course_id: int | None = None
    cohort: Cohort | None = None
    user: User | None = None
    cpu_charged: float = 0.0  # whole CPU-seconds already counted against the quota
    granted_at: float = 0.0  # when the kernel's model grant was last renewed
    busy: threading.Lock = field(default_factory=threading.Lock)


_held: dict[tuple[int, int], Held] = {}
_held_lock = threading.Lock()


def _save_record(held: Held) -> None:
    last_used = held.session.last_activity
    record = {"worker": held.worker, "sid": held.sid, "last_activity": last_used}
    pipe = redis_client().pipeline()
    pipe.set(record_key(held.learner_id, held.exercise_id), json.dumps(record), ex=record_ttl())
    pipe.zadd(learner_key(held.learner_id), {str(held.exercise_id): last_used})
    pipe.expire(learner_key(held.learner_id), record_ttl())
    pipe.execute()
    _grant_models(held)


def _grant_models(held: Held) -> None:
    """While the session lives (renewed with its record), its kernel may call the model
    gateway as the learner: the gateway knows the kernel by its slot uid."""
    kernel = held.session.kernel
    now = time.time()
    if kernel is not None and kernel.uid is not None and now - held.granted_at >= GRANT_RENEW_S:
        held.granted_at = now
        kernels.grant_models(
            uid=kernel.uid,
            user_id=held.learner_id,
            course_id=held.course_id,
            cohort=held.cohort,
            ttl_s=record_ttl(),
        )


def _claim(learner_id: int, exercise_id: int, worker: str) -> dict[str, Any]:
    """The session's record after trying to create it (exactly one worker wins), in one
    round trip: every cell asks, and mostly finds the record already there."""
    record = {"worker": worker, "sid": uuid.uuid4().hex, "last_activity": time.time()}
    key = record_key(learner_id, exercise_id)
    pipe = redis_client().pipeline(transaction=False)
    pipe.set(key, json.dumps(record), nx=True, ex=record_ttl())
    pipe.get(key)
    created, raw = pipe.execute()
    if created:
        return record
    return json.loads(raw) if raw else _claim(learner_id, exercise_id, worker)


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
    held = _held.get(key)
    if held is not None and held.sid == record["sid"]:
        return held
    # A session of its own now: the runs sent to start it are no longer at risk.
    starting.found(learner_id=learner_id, exercise_id=exercise_id)
    if record["worker"] != worker:
        raise NotHere(record["worker"])
    if held is not None:  # restarted meanwhile: that kernel is no longer the session's
        _end(held, state="")
    _close_least_recent(learner_id, exercise_id, worker=worker)
    if not _reserve_slot():
        redis_client().delete(record_key(learner_id, exercise_id))
        return None
    try:
        held = _start(learner_id, exercise_id, worker=worker, sid=record["sid"])
    finally:
        _release_slot()
    _save_record(held)
    publish(learner_id, exercise_id, {"type": "kernel", "state": "ready"})
    report_load(worker)
    return held


_starting: list[int] = [0]  # sessions whose kernel is starting (counted against capacity)


def _reserve_slot() -> bool:
    with _held_lock:
        taken = len(_held) + _starting[0]
        if taken >= capacity.session_capacity(held=taken):
            return False
        _starting[0] += 1
        return True


def _release_slot() -> None:
    with _held_lock:
        _starting[0] -= 1


def _close_least_recent(learner_id: int, exercise_id: int, *, worker: str) -> None:
    """The learner's least recently used sessions beyond their limit close before the new
    one reserves room: those held here end now, so a full worker has room for it at once."""
    for record in sessions_close_least_recent(learner_id=learner_id, exercise_id=exercise_id):
        closed = _held.get((learner_id, record["exercise_id"]))
        if record["worker"] == worker and closed is not None and closed.sid == record["sid"]:
            # Its page was told "evicted"; the stop sent to this worker will find nothing.
            _end(closed, state="", report=False)


def _start(learner_id: int, exercise_id: int, *, worker: str, sid: str) -> Held:
    """A new kernel for the session, held here (the record is removed if it fails)."""
    publish(learner_id, exercise_id, {"type": "kernel", "state": "starting"})
    course_id = (
        Exercise.objects.filter(pk=exercise_id).values_list("module__course_id", flat=True).first()
    )
    try:
        # The course's own runtime when it pins packages: its own pool, its own zygote.
        runtime_dir = environment_runtime(course_id=course_id) if course_id else None
        pool = kernels.kernel_pool(kernels.INTERACTIVE, runtime_dir, size=capacity.spare_kernels())
        session = Session(
            limits=kernels.interactive_limits(), pool=pool, start_timeout_s=KERNEL_WAIT_S
        )
        session.start()
    except (SandboxError, EnvironmentNotReady) as exc:
        redis_client().delete(record_key(learner_id, exercise_id))
        event = {"type": "kernel", "state": "unavailable"}
        if isinstance(exc, EnvironmentNotReady):
            publish(learner_id, exercise_id, {**event, "reason": "environment"})
            raise SandboxInfraError(str(exc)) from exc
        publish(learner_id, exercise_id, event)
        raise
    enrollment = (
        Enrollment.objects.filter(user_id=learner_id, cohort__course_id=course_id)
        .select_related("cohort", "user")
        .first()
        if course_id is not None
        else None
    )
    held = Held(
        session,
        learner_id,
        exercise_id,
        worker=worker,
        sid=sid,
        course_id=course_id,
        cohort=enrollment.cohort if enrollment else None,
        user=enrollment.user if enrollment else None,
    )
    with _held_lock:
        _held[(learner_id, exercise_id)] = held
    return held


def _charge_cpu(held: Held, *, final: bool = False) -> None:
    """Charge the kernel's CPU time to the cohort's daily CPU-seconds quota, as grading
    does: whole seconds as they accrue, the rest rounded up when the kernel ends."""
    if held.cohort is None or held.user is None:
        return
    used = held.session.cpu_seconds()
    if used is None:
        return
    due = used - held.cpu_charged
    amount = math.ceil(due) if final else math.floor(due)
    if amount > 0:
        quota_record(user=held.user, cohort=held.cohort, kind=QuotaKind.CPU_SECONDS,
                     amount=amount)  # fmt: skip
        held.cpu_charged += amount


def session_run(
    *,
    learner_id: int,
    exercise_id: int,
    worker: str,
    runs: list[dict[str, str]],
    since: float | None = None,
) -> None:
    """Run cells one after the other, streaming their outputs; stop at the first failure.
    When this worker is full, the learner waits in line (keeping their place `since`)."""
    held = held_session(learner_id=learner_id, exercise_id=exercise_id, worker=worker)
    if held is None:
        session_wait(learner_id=learner_id, exercise_id=exercise_id, runs=runs, since=since)
        report_load(worker)
        return
    with held.busy:
        for position, run in enumerate(runs):
            if not _run_one(held, run):
                publish_skipped(learner_id, exercise_id, runs[position + 1 :])
                break
        _charge_cpu(held)
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

    if interrupted_before_start(held.learner_id, held.exercise_id, run):
        publish_skipped(held.learner_id, held.exercise_id, [run])
        return False
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


def _end(
    held: Held, *, state: str, reason: str = "", wait: bool = True, report: bool = True
) -> None:
    """Stop the kernel and forget the session; its record goes too if still this one's.
    `state` is announced to the page (nothing when empty). With `wait`, a cell running in
    another thread is ended first: its kernel is killed (a signal: safe from any thread)
    and its thread lets go before the kernel's sockets close (zmq sockets are not).
    Without `report`, the room it frees is not offered to the waiting line (the caller
    takes it)."""
    with _held_lock:
        if _held.get((held.learner_id, held.exercise_id)) is held:
            del _held[(held.learner_id, held.exercise_id)]
    kernel = held.session.kernel
    if wait and kernel is not None and held.busy.locked():
        kernel.kill_for("stopped")
        if held.busy.acquire(timeout=STOP_WAIT_S):
            held.busy.release()
    uid = kernel.uid if kernel is not None else None
    _charge_cpu(held, final=True)
    held.session.stop()
    if uid is not None:
        grant_revoke(uid=uid)
    record = read_record(held.learner_id, held.exercise_id)
    if record and record["sid"] == held.sid:
        redis_client().delete(record_key(held.learner_id, held.exercise_id))
        redis_client().zrem(learner_key(held.learner_id), str(held.exercise_id))
    if state:
        event = {"type": "kernel", "state": state}
        if reason:
            event["reason"] = reason
        publish(held.learner_id, held.exercise_id, event)
    if report and not _stopping.is_set():
        report_load(held.worker)


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
    # The page already said "restarted" or "evicted"; a culled session says why it ended.
    _end(held, state="culled" if reason == "culled" else "")
    return True


def stop_all() -> None:
    """The worker is shutting down: its kernels go with it, and so do their records."""
    _stopping.set()
    for held in list(_held.values()):
        _end(held, state="stopped")
    kernels.close_pool(kernels.INTERACTIVE)
    for worker in _reporting:
        routing.worker_forget(worker=worker)


# ------------------------------------------------------------------- load and the line

_stopping = threading.Event()
_reporting: list[str] = []


def report_load(worker: str) -> None:
    """Tell the web how loaded this worker is, and take learners waiting in line while
    there is room."""
    with _held_lock:
        taken = len(_held) + _starting[0]
    room = capacity.session_capacity(held=taken)
    pool = kernels.pool_stats(kernels.INTERACTIVE)
    routing.worker_report(
        worker=worker, held=taken, capacity=room, warm=pool["ready"], spares=pool["size"]
    )
    if room > taken:
        waiting_admit(worker=worker, free=room - taken)


def start_reporting(worker: str) -> None:
    """From the worker's start: its load every few seconds, so the web knows it is alive
    and how much room it has. Its warm pool starts at once too: the zygote's imports take
    seconds, which the first learners of a class should not wait for."""
    if _reporting:
        return
    _reporting.append(worker)
    kernels.kernel_pool(kernels.INTERACTIVE, size=capacity.spare_kernels())
    report_load(worker)

    def loop() -> None:
        while not _stopping.wait(routing.REPORT_EVERY_S):
            try:
                report_load(worker)
            except Exception:
                logger.exception("interactive: reporting this worker's load failed")

    threading.Thread(target=loop, name="interactive-load", daemon=True).start()
