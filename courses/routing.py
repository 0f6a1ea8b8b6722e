"""Which interactive worker takes a new live session: the least loaded one.

Every worker that holds sessions reports its load (sessions held, its capacity) to a Redis
hash every few seconds and whenever a session starts or ends. The web reads it to send a
new session's first request to that worker's own queue (Celery's worker-direct queue):
Celery routing does the rest, no scheduler of our own. A worker whose report is older than
STALE_AFTER_S is taken for dead: its sessions are reported lost and reopen elsewhere.

Between two reports, the web counts the sessions it sent to each worker (`assigned`), so a
class arriving at once is spread instead of all sent to the worker that looked emptiest.
"""

import json
import time
from dataclasses import dataclass

from campus.redis_client import redis_client

WORKERS_KEY = "interactive:workers"
ASSIGNED_KEY = "interactive:assigned"
# Learners waiting for room when every worker is full (courses.learn.sessions keeps it).
WAITING_KEY = "interactive:waiting"
REPORT_EVERY_S = 3.0
STALE_AFTER_S = 15.0
# A dead worker's report is kept this long for the operations page, then forgotten.
FORGET_AFTER_S = 3600.0


@dataclass(frozen=True)
class WorkerLoad:
    name: str
    held: int
    capacity: int
    assigned: int  # sent to it since its last report
    seen: float  # when it last reported (epoch seconds)
    waiting: int = 0
    warm: int = 0  # spare kernels ready for new sessions
    spares: int = 0  # how many it keeps ready when it can

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.held - self.assigned)

    def alive(self, now: float) -> bool:
        return now - self.seen < STALE_AFTER_S


def worker_report(
    *,
    worker: str,
    held: int,
    capacity: int,
    warm: int = 0,
    spares: int = 0,
    now: float | None = None,
) -> None:
    """A worker's own load, as of now (its sessions sent meanwhile are now counted), and
    its spare kernels: `warm` ready of the `spares` it keeps."""
    report = {
        "held": held,
        "capacity": capacity,
        "warm": warm,
        "spares": spares,
        "seen": now or time.time(),
    }
    pipe = redis_client().pipeline()
    pipe.hset(WORKERS_KEY, worker, json.dumps(report))
    pipe.hdel(ASSIGNED_KEY, worker)
    pipe.execute()


def worker_forget(*, worker: str) -> None:
    """The worker stopped cleanly (its sessions are already ended)."""
    pipe = redis_client().pipeline()
    pipe.hdel(WORKERS_KEY, worker)
    pipe.hdel(ASSIGNED_KEY, worker)
    pipe.execute()


def workers_load() -> list[WorkerLoad]:
    """Every worker that reported, dead ones included (see WorkerLoad.alive)."""
    client = redis_client()
    reports: dict[bytes, bytes] = client.hgetall(WORKERS_KEY)  # type: ignore[assignment]
    counted: dict[bytes, bytes] = client.hgetall(ASSIGNED_KEY)  # type: ignore[assignment]
    assigned = {k.decode(): int(v) for k, v in counted.items()}
    loads = []
    for raw_name, raw in reports.items():
        name = raw_name.decode()
        report = json.loads(raw)
        loads.append(
            WorkerLoad(
                name=name,
                held=int(report["held"]),
                capacity=int(report["capacity"]),
                assigned=assigned.get(name, 0),
                seen=float(report["seen"]),
                warm=int(report.get("warm", 0)),
                spares=int(report.get("spares", 0)),
            )
        )
    return sorted(loads, key=lambda load: load.name)


def worker_pick(*, now: float | None = None) -> str | None:
    """The live worker with the most room (the smallest share of its capacity in use),
    counted as assigned one more session; None when every live worker is full or none
    has reported."""
    now = now or time.time()
    candidates = [w for w in workers_load() if w.alive(now) and w.free > 0]
    if not candidates:
        return None
    best = min(candidates, key=lambda w: ((w.held + w.assigned) / w.capacity, w.name))
    redis_client().hincrby(ASSIGNED_KEY, best.name, 1)
    return best.name


def workers_known(*, now: float | None = None) -> tuple[int, int]:
    """(live workers, free sessions among them)."""
    now = now or time.time()
    live = [w for w in workers_load() if w.alive(now)]
    return len(live), sum(w.free for w in live)


def worker_is_dead(worker: str, *, now: float | None = None) -> bool:
    """True when the worker reported once and then stopped: killed, or its host is gone.
    A worker that never reported is not known to be dead."""
    raw = redis_client().hget(WORKERS_KEY, worker)
    if raw is None:
        return False
    return (now or time.time()) - float(json.loads(raw)["seen"]) >= STALE_AFTER_S


def workers_forget_dead(*, now: float | None = None) -> None:
    now = now or time.time()
    for load in workers_load():
        if now - load.seen >= FORGET_AFTER_S:
            worker_forget(worker=load.name)


def waiting_count() -> int:
    return int(redis_client().zcard(WAITING_KEY))
