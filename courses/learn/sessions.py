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
    output  run, cell, output (see courses.html.safe_output)
Messages are codes: the page shows them in the learner's language.

This module is the sessions' shared vocabulary (records, channels, events) and the web's
side (requests sent by name to the holder, courses.queues); the holder's side, which owns
the kernels, is courses.learn.holder; its tasks, courses.learn.tasks.
"""

import json
import time
import uuid
from typing import Any

from celery.utils.nodenames import worker_direct
from django.conf import settings

from campus.redis_client import redis_client
from courses import queues, routing, sse
from courses.learn import starting

ACTIONS = {
    "run": queues.INTERACTIVE_RUN,
    "interrupt": queues.INTERACTIVE_INTERRUPT,
    "stop": queues.INTERACTIVE_STOP,
}


def record_key(learner_id: int, exercise_id: int) -> str:
    return f"interactive:session:{learner_id}:{exercise_id}"


def learner_key(learner_id: int) -> str:
    """A learner's live sessions: exercise ids scored by last activity."""
    return f"interactive:learner:{learner_id}"


def channel_name(learner_id: int, exercise_id: int) -> str:
    return f"interactive:{learner_id}:{exercise_id}:events"


def publish(learner_id: int, exercise_id: int, event: dict[str, Any]) -> None:
    """Best effort, like submission progress: a lost event never breaks a session."""
    sse.publish(channel_name(learner_id, exercise_id), event)


def publish_skipped(learner_id: int, exercise_id: int, runs: list[dict[str, str]]) -> None:
    """Each of `runs` will not run: the learner interrupted them, or an earlier one failed."""
    for run in runs:
        event = {"type": "run", "state": "skipped", "run": run["run"], "cell": run["cell"]}
        if interrupted_before_start(learner_id, exercise_id, run):
            event["reason"] = "interrupted"
        publish(learner_id, exercise_id, event)


def read_record(learner_id: int, exercise_id: int) -> dict[str, Any] | None:
    raw = redis_client().get(record_key(learner_id, exercise_id))
    return json.loads(raw) if raw else None


def record_ttl() -> int:
    # A backstop for records of workers that died: the culler normally ends sessions first.
    return settings.INTERACTIVE_IDLE_TIMEOUT_S + 300


def _beyond_limit(learner_id: int, exercise_id: int) -> list[tuple[int, dict[str, Any]]]:
    """The learner's live sessions (exercise id, record) that a new session of
    `exercise_id` would put beyond INTERACTIVE_SESSIONS_PER_LEARNER, least recent first."""
    limit = settings.INTERACTIVE_SESSIONS_PER_LEARNER
    if limit <= 0:
        return []
    client = redis_client()
    others = []
    entries: list[tuple[bytes, float]] = client.zrange(  # type: ignore[assignment]
        learner_key(learner_id), 0, -1, withscores=True
    )
    for member, last_used in entries:
        other = int(member)
        if other == exercise_id:
            continue
        record = read_record(learner_id, other)
        if record is None:
            client.zrem(learner_key(learner_id), member)
            continue
        others.append((last_used, other, record))
    return [(other, record) for _, other, record in sorted(others)[: len(others) - limit + 1]]


def sessions_close_least_recent(*, learner_id: int, exercise_id: int) -> list[dict[str, Any]]:
    """The per-learner limit (INTERACTIVE_SESSIONS_PER_LEARNER), before a new session of
    `exercise_id` starts: the learner's least recently used sessions are closed until the
    new one fits, and their pages say why. Returns the records of those closed (their
    holders are sent a stop; a holder that is the caller may end them at once)."""
    client = redis_client()
    closing = _beyond_limit(learner_id, exercise_id)
    for other, record in closing:
        # The record goes first, as for a restart: a run on that page starts afresh.
        client.delete(record_key(learner_id, other))
        client.zrem(learner_key(learner_id), other)
        send("stop", learner_id, other, worker=record["worker"], sid=record["sid"],
             reason="evicted")  # fmt: skip
        limit = settings.INTERACTIVE_SESSIONS_PER_LEARNER
        publish(learner_id, other, {"type": "kernel", "state": "evicted", "limit": limit})
    return [record | {"exercise_id": other} for other, record in closing]


# ------------------------------------------------------------------- the web's side


def session_holder(*, learner_id: int, exercise_id: int) -> str | None:
    """The worker that holds the session, if any."""
    record = read_record(learner_id, exercise_id)
    return record["worker"] if record else None


def _live_holder(learner_id: int, exercise_id: int) -> str | None:
    """The worker that holds the session; a session whose worker died is reported lost
    (its page says the kernel was restarted) and forgotten, so it reopens elsewhere."""
    record = read_record(learner_id, exercise_id)
    if record is None:
        return None
    if routing.worker_is_dead(record["worker"]):
        session_lost(learner_id=learner_id, exercise_id=exercise_id, sid=record["sid"])
        return None
    return str(record["worker"])


def session_lost(*, learner_id: int, exercise_id: int, sid: str) -> None:
    client = redis_client()
    record = read_record(learner_id, exercise_id)
    if record is None or record["sid"] != sid:
        return  # ended or replaced meanwhile
    client.delete(record_key(learner_id, exercise_id))
    client.zrem(learner_key(learner_id), str(exercise_id))
    publish(learner_id, exercise_id, {"type": "kernel", "state": "lost"})


def session_run_request(
    *, learner_id: int, exercise_id: int, cells: list[tuple[str, str]]
) -> list[str]:
    """Run cells (key, code) in order in the learner's session; one run id per cell.
    The session starts on first use, on the least loaded worker; when every worker is
    full the learner waits in line (the page shows where). A failing cell skips the rest."""
    sent = str(time.time())  # an interrupt asked for later stops them, even before they start
    runs = [{"run": uuid.uuid4().hex, "cell": key, "code": code, "sent": sent}
            for key, code in cells]  # fmt: skip
    worker = _live_holder(learner_id, exercise_id)
    if worker is not None:
        send("run", learner_id, exercise_id, worker=worker, runs=runs)
        return [run["run"] for run in runs]
    worker = routing.worker_pick() or _freed_by_own_limit(learner_id, exercise_id)
    if worker is None and routing.workers_known()[0] > 0:
        session_wait(learner_id=learner_id, exercise_id=exercise_id, runs=runs)
    else:
        _send_to_start(learner_id, exercise_id, worker=worker, runs=runs)
    return [run["run"] for run in runs]


def _send_to_start(
    learner_id: int, exercise_id: int, *, worker: str | None, runs: list[dict[str, str]]
) -> None:
    """The runs that start a session; noted until a worker takes them (courses.learn.starting)
    when they go to one worker's own queue."""
    if worker is None:
        send("run", learner_id, exercise_id, worker=None, runs=runs)
        return
    task_id = uuid.uuid4().hex
    starting.note(learner_id=learner_id, exercise_id=exercise_id, worker=worker,
                  task_id=task_id, runs=runs)  # fmt: skip
    send("run", learner_id, exercise_id, worker=worker, runs=runs, task_id=task_id, noted=True)


def sessions_rescue_starting(*, now: float | None = None) -> int:
    """Beat: runs sent to start a session on a worker that died before it took them go to
    a live worker (or the waiting line) instead. Returns how many messages went again."""
    if routing.workers_known()[0] == 0:
        return 0  # nowhere to send them yet: they wait for the next look
    sent = 0
    for learner_id, exercise_id, runs in starting.take_dead(now=now):
        worker = routing.worker_pick()
        if worker is None:
            session_wait(learner_id=learner_id, exercise_id=exercise_id, runs=runs)
        else:
            _send_to_start(learner_id, exercise_id, worker=worker, runs=runs)
        sent += 1
    return sent


def _freed_by_own_limit(learner_id: int, exercise_id: int) -> str | None:
    """When every worker is full but the learner is at their own limit, the worker holding
    the session this one will close: it makes room there, so the learner does not wait."""
    closing = _beyond_limit(learner_id, exercise_id)
    if not closing or routing.worker_is_dead(closing[0][1]["worker"]):
        return None
    return str(closing[0][1]["worker"])


def interrupted_key(learner_id: int, exercise_id: int) -> str:
    return f"interactive:interrupted:{learner_id}:{exercise_id}"


def session_interrupt_request(*, learner_id: int, exercise_id: int) -> bool:
    """Interrupt the running cell, and the cells sent before now that have not started
    (they may still be on their way: the worker skips them). False when there is no
    session yet (its first cells, if any are on their way, are skipped all the same)."""
    redis_client().set(interrupted_key(learner_id, exercise_id), time.time(),
                       ex=settings.INTERACTIVE_REQUEST_EXPIRES_S)  # fmt: skip
    if session_holder(learner_id=learner_id, exercise_id=exercise_id) is None:
        return False
    _send("interrupt", learner_id, exercise_id)
    return True


def interrupted_before_start(learner_id: int, exercise_id: int, run: dict[str, str]) -> bool:
    """Whether the learner interrupted after `run` was sent, before it started."""
    raw = redis_client().get(interrupted_key(learner_id, exercise_id))
    return raw is not None and float(raw) >= float(run.get("sent", "inf"))


def session_restart_request(*, learner_id: int, exercise_id: int) -> None:
    """A fresh kernel. The record is dropped first, so a restart also recovers a session
    whose worker is gone: the next run starts a new session on any live worker."""
    record = read_record(learner_id, exercise_id)
    redis_client().delete(record_key(learner_id, exercise_id))
    if record is not None:
        _send("stop", learner_id, exercise_id, worker=record["worker"], sid=record["sid"],
              reason="restarted")  # fmt: skip
    publish(learner_id, exercise_id, {"type": "kernel", "state": "restarted"})


def _send(action: str, learner_id: int, exercise_id: int, *, worker: str | None = None,
          **kwargs: Any) -> None:  # fmt: skip
    worker = worker or session_holder(learner_id=learner_id, exercise_id=exercise_id)
    send(action, learner_id, exercise_id, worker=worker, **kwargs)


def send(action: str, learner_id: int, exercise_id: int, *, worker: str | None,
         task_id: str | None = None, **kwargs: Any) -> None:  # fmt: skip
    """Enqueue `action` (run, interrupt, stop) for a session, to its holder when known
    (Celery's worker-direct queue, `<nodename>.dq`), else to the shared `interactive`
    queue, whose first taker claims the session."""
    queues.send(
        ACTIONS[action],
        learner_id,
        exercise_id,
        queue=worker_direct(worker) if worker else queues.INTERACTIVE,
        expires=settings.INTERACTIVE_REQUEST_EXPIRES_S,
        task_id=task_id,
        **kwargs,
    )


def sessions_cull_idle(*, idle_s: float, warn_s: float = 0, now: float | None = None) -> int:
    """Beat: ask holders to stop sessions idle for `idle_s`, after warning their pages
    `warn_s` before; report sessions of dead workers lost. Returns how many were asked to
    stop."""
    now = now or time.time()
    client = redis_client()
    asked = 0
    for key in client.scan_iter(match="interactive:session:*", count=500):
        raw = client.get(key)
        if not raw:
            continue
        record = json.loads(raw)
        learner_id, exercise_id = (int(part) for part in key.decode().split(":")[2:4])
        if routing.worker_is_dead(record["worker"], now=now):
            session_lost(learner_id=learner_id, exercise_id=exercise_id, sid=record["sid"])
            continue
        idle = now - float(record.get("last_activity", 0))
        if warn_s and idle_s - warn_s <= idle < idle_s:
            _warn_idle(learner_id, exercise_id, record, left_s=idle_s - idle)
        if idle >= idle_s:
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
    routing.workers_forget_dead(now=now)
    return asked


def _warn_idle(learner_id: int, exercise_id: int, record: dict[str, Any], *, left_s: float) -> None:
    """Once per idle spell (a run makes a new last_activity, so a new warning later)."""
    key = f"interactive:warned:{learner_id}:{exercise_id}:{record['last_activity']}"
    if redis_client().set(key, 1, nx=True, ex=int(left_s) + 600):
        minutes = max(1, round(left_s / 60))
        publish(learner_id, exercise_id,
                {"type": "kernel", "state": "idle_warning", "minutes": minutes})  # fmt: skip


# ------------------------------------------------------------------- the waiting line
# When every worker is full, a learner's first run waits here instead of being refused:
# a sorted set (learner:exercise by arrival) and the runs of each; holders with room take
# from the head. Each waiting page is told its place and about how long.

WAITING_KEY = routing.WAITING_KEY
WAITING_RUNS_KEY = "interactive:waiting:runs"
ADMITTED_KEY = "interactive:admitted"  # recent admission times, for the estimate
SECONDS_PER_PLACE = 10.0  # the estimate before there is any admission to go by


def session_wait(
    *, learner_id: int, exercise_id: int, runs: list[dict[str, str]], since: float | None = None
) -> int:
    """Put the learner in line (or add these runs to their place); returns the place."""
    client = redis_client()
    member = f"{learner_id}:{exercise_id}"
    raw = client.hget(WAITING_RUNS_KEY, member)
    entry = json.loads(raw) if raw else {"since": since or time.time(), "runs": []}
    entry["runs"] += runs
    pipe = client.pipeline()
    pipe.zadd(WAITING_KEY, {member: entry["since"]}, nx=True)
    pipe.hset(WAITING_RUNS_KEY, member, json.dumps(entry))
    pipe.execute()
    rank: int | None = client.zrank(WAITING_KEY, member)  # type: ignore[assignment]
    place = (rank or 0) + 1
    publish(learner_id, exercise_id, _queued_event(place, _seconds_per_place()))
    return place


def waiting_admit(*, worker: str, free: int) -> int:
    """A holder with `free` room takes that many learners from the head of the line (their
    runs go to its own queue); the others are told their new place. Returns how many."""
    client = redis_client()
    admitted = 0
    while admitted < free:
        popped: list[tuple[bytes, float]] = client.zpopmin(WAITING_KEY)  # type: ignore[assignment]
        if not popped:
            break
        member = popped[0][0].decode()
        raw = client.hget(WAITING_RUNS_KEY, member)
        client.hdel(WAITING_RUNS_KEY, member)
        if raw is None:
            continue
        learner_id, exercise_id = (int(part) for part in member.split(":"))
        entry = json.loads(raw)
        send("run", learner_id, exercise_id, worker=worker, runs=entry["runs"],
             since=entry["since"])  # fmt: skip
        client.lpush(ADMITTED_KEY, time.time())
        client.ltrim(ADMITTED_KEY, 0, 19)
        admitted += 1
    if admitted:
        waiting_tell_places()
    return admitted


def waiting_tell_places(*, limit: int = 200) -> None:
    per_place = _seconds_per_place()
    members: list[bytes] = redis_client().zrange(WAITING_KEY, 0, limit - 1)  # type: ignore[assignment]
    for index, member in enumerate(members):
        learner_id, exercise_id = (int(part) for part in member.decode().split(":"))
        publish(learner_id, exercise_id, _queued_event(index + 1, per_place))


def _queued_event(place: int, per_place: float) -> dict[str, Any]:
    return {"type": "kernel", "state": "queued", "place": place,
            "eta_s": max(1, round(place * per_place))}  # fmt: skip


def _seconds_per_place() -> float:
    times = sorted(float(t) for t in redis_client().lrange(ADMITTED_KEY, 0, -1))
    if len(times) < 2:
        return SECONDS_PER_PLACE
    return max(0.5, (times[-1] - times[0]) / (len(times) - 1))
