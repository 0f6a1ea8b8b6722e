"""The operations page's figures: queue depth, workers, warm kernels, latency, errors.

Warm kernels come from a Celery remote-control command, `kernel_pool_stats`, that every
worker answers (courses.grading.tasks registers it).
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from celery import current_app
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from courses import routing
from courses.models import Submission, SubmissionStatus
from courses.queues import QUEUES

# kombu's Redis transport keeps priority sub-queues as "<queue>\x06\x16<priority>".
PRIORITY_SUFFIXES = ("", *(f"\x06\x16{p}" for p in (3, 6, 9)))


def queue_depths(*, queues: tuple[str, ...] = QUEUES) -> dict[str, int | None]:
    """Messages waiting in each Celery queue (Redis list lengths); None when unreachable."""
    try:
        # A client of its own: a probe gives up after a second, where work waits five.
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)
        return {q: sum(client.llen(q + suffix) for suffix in PRIORITY_SUFFIXES) for q in queues}
    except redis.RedisError:
        return dict.fromkeys(queues)


@dataclass(frozen=True)
class WorkerState:
    name: str
    alive: bool
    kernels_ready: int | None
    kernels_size: int | None


def workers(*, timeout: float = 1.0) -> list[WorkerState]:
    """Workers answering a ping, with their warm kernels (one broadcast each)."""
    try:
        control = current_app.control
        pings = control.ping(timeout=timeout) or []
        stats = control.broadcast("kernel_pool_stats", reply=True, timeout=timeout) or []
    except Exception:  # the broker is down: no worker is reachable either
        return []
    alive = {name for reply in pings for name in reply}
    pools = {name: value for reply in stats for name, value in reply.items()}
    return [
        WorkerState(
            name=name,
            alive=True,
            kernels_ready=pools.get(name, {}).get("ready"),
            kernels_size=pools.get(name, {}).get("size"),
        )
        for name in sorted(alive)
    ]


@dataclass(frozen=True)
class SessionWorker:
    name: str
    alive: bool
    held: int
    free: int
    capacity: int


def session_workers(*, now: float | None = None) -> list[SessionWorker]:
    """Live notebook sessions held and free on each interactive worker, from the loads
    they report (courses.routing); a worker that stopped reporting shows as not alive."""
    now = now or time.time()
    try:
        loads = routing.workers_load()
    except redis.RedisError:
        return []
    return [
        SessionWorker(
            name=load.name,
            alive=load.alive(now),
            held=load.held,
            free=load.free if load.alive(now) else 0,
            capacity=load.capacity,
        )
        for load in loads
    ]


def sessions_waiting() -> int:
    """Learners waiting in line for a live kernel (0 when Redis does not answer)."""
    try:
        return routing.waiting_count()
    except redis.RedisError:
        return 0


@dataclass(frozen=True)
class Latency:
    count: int
    p50_s: float | None
    p95_s: float | None


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted `values`."""
    if not values:
        return None
    rank = max(1, int(-(-fraction * len(values) // 1)))
    return values[min(rank, len(values)) - 1]


def grading_latency(*, since: datetime | None = None) -> Latency:
    """Submitted → graded time of submissions finished in the last hour."""
    since = since or timezone.now() - timedelta(hours=1)
    rows = Submission.objects.filter(
        finished_at__gte=since, status__in=[SubmissionStatus.GRADED, SubmissionStatus.FAILED]
    ).values_list("created_at", "finished_at")
    seconds = sorted((done - made).total_seconds() for made, done in rows if done is not None)
    return Latency(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.95))


def recent_errors(*, limit: int = 20) -> list[Submission]:
    return list(
        Submission.objects.filter(Q(status=SubmissionStatus.ERROR) | Q(needs_staff=True))
        .select_related("exercise", "learner", "cohort__course__organization")
        .order_by("-created_at")[:limit]
    )
