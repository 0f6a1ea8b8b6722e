"""The operations page's figures: queue depth, workers, warm kernels, latency, errors.

Warm kernels come from a Celery remote-control command, `kernel_pool_stats`, that every
worker answers (courses.grading.tasks registers it).
"""

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
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


WORKERS_KEY = "operations:workers"
WORKERS_KEPT_S = 60


@dataclass(frozen=True)
class WorkerState:
    name: str
    alive: bool
    kernels_ready: int | None
    kernels_size: int | None


def workers(*, timeout: float = 1.0) -> list[WorkerState]:
    """Workers answering a broadcast, with their warm kernels. It waits `timeout` for the
    answers, so the page asks in the background; the answer is kept for the next page."""
    try:
        stats = current_app.control.broadcast("kernel_pool_stats", reply=True, timeout=timeout)
    except Exception:  # the broker is down: no worker is reachable either
        return []
    pools = {name: value for reply in stats or [] for name, value in reply.items()}
    found = [
        WorkerState(
            name=name,
            alive=True,
            kernels_ready=pools[name].get("ready"),
            kernels_size=pools[name].get("size"),
        )
        for name in sorted(pools)
    ]
    cache.set(WORKERS_KEY, [asdict(w) for w in found], WORKERS_KEPT_S)
    return found


def workers_seen() -> list[WorkerState] | None:
    """The latest answer to `workers` (at most WORKERS_KEPT_S old), or None."""
    kept = cache.get(WORKERS_KEY)
    return None if kept is None else [WorkerState(**w) for w in kept]


@dataclass(frozen=True)
class SessionWorker:
    name: str
    alive: bool
    held: int
    free: int
    capacity: int
    warm: int = 0  # spare kernels ready for new sessions
    spares: int = 0


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
            warm=load.warm if load.alive(now) else 0,
            spares=load.spares,
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


# --- Web latency per route: each web process records, the operations page reads. ---
WEB_LATENCY_KEY = "ostp:web:latency:"
WEB_ROUTES_KEY = "ostp:web:routes"
WEB_SAMPLES = 1000  # the latest requests of each route
WEB_FLUSH_S = 1.0
_web_clients: dict[str, redis.Redis] = {}


def _web_redis() -> redis.Redis:
    # Its own client with a short timeout: recording must never slow a request down much.
    url = settings.REDIS_URL
    client = _web_clients.get(url)
    if client is None:
        client = _web_clients[url] = redis.Redis.from_url(
            url, socket_timeout=0.2, socket_connect_timeout=0.2
        )
    return client


class LatencyBuffer:
    """One web process's samples, written to Redis together at most every `flush_s`: a
    round trip a second instead of one per request. Best effort: a Redis outage drops the
    samples, never fails a request; a process that stops loses its last second."""

    def __init__(
        self, *, flush_s: float = WEB_FLUSH_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._samples: list[tuple[str, float]] = []
        self._flush_s = flush_s
        self._clock = clock
        self._flushed_at = clock()

    def record(self, *, route: str, seconds: float) -> None:
        with self._lock:
            self._samples.append((route, round(seconds * 1000, 2)))
            if self._clock() - self._flushed_at < self._flush_s:
                return
            samples = self._take()
        _web_write(samples)

    def flush(self) -> None:
        with self._lock:
            samples = self._take()
        _web_write(samples)

    def _take(self) -> list[tuple[str, float]]:
        samples, self._samples, self._flushed_at = self._samples, [], self._clock()
        return samples


def _web_write(samples: list[tuple[str, float]]) -> None:
    if not samples:
        return
    by_route: dict[str, list[float]] = {}
    for route, ms in samples:
        by_route.setdefault(route, []).append(ms)
    with contextlib.suppress(redis.RedisError):
        pipe = _web_redis().pipeline(transaction=False)
        pipe.sadd(WEB_ROUTES_KEY, *by_route)
        for route, values in by_route.items():
            pipe.lpush(WEB_LATENCY_KEY + route, *values)  # the newest ends up first
            pipe.ltrim(WEB_LATENCY_KEY + route, 0, WEB_SAMPLES - 1)
        pipe.execute()


_web_buffer = LatencyBuffer()


def web_request_record(*, route: str, seconds: float) -> None:
    _web_buffer.record(route=route, seconds=seconds)


@dataclass(frozen=True)
class RouteLatency:
    route: str
    count: int
    p50_ms: float | None
    p95_ms: float | None


def web_latency() -> list[RouteLatency]:
    """p50/p95 of each route's latest WEB_SAMPLES requests (all web processes; this one's
    up to now, the others' up to their last second), slowest p95 first."""
    _web_buffer.flush()
    try:
        client = _web_redis()
        routes = sorted(
            r.decode() if isinstance(r, bytes) else str(r) for r in client.smembers(WEB_ROUTES_KEY)
        )
        pipe = client.pipeline(transaction=False)
        for route in routes:
            pipe.lrange(WEB_LATENCY_KEY + route, 0, -1)
        samples = pipe.execute()
    except redis.RedisError:
        return []
    rows = []
    for route, values in zip(routes, samples, strict=True):
        ms = sorted(float(v) for v in values)
        rows.append(RouteLatency(route, len(ms), percentile(ms, 0.5), percentile(ms, 0.95)))
    return sorted(rows, key=lambda row: -(row.p95_ms or 0))
