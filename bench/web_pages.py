"""Where a web request's CPU goes: each page of bench/web.py's mix, and the POST that runs a
cell in a live session (the exercise page's "Run"), in this process.

`python -m bench.web_pages [name ...] [--profile]` sends each request REQUESTS times in each
of ROUNDS rounds through the web server's own application (config.asgi: the edge guard,
config.handler's pool, here of one thread, and Django's middleware, views and templates),
called as uvicorn calls it, and prints the CPU milliseconds per request of this process
(time.process_time, every thread; the fewest of the rounds, as other load on a shared
machine only adds) and the database queries of one request. Opening and closing the
database connection is counted, as in the server (Django's test client skips it). Not
counted: uvicorn's HTTP parsing (~0.6 ms a request on the main thread of the server).

With --profile, cProfile's most expensive functions by cumulative CPU time of their own
thread (time.thread_time, so a thread waiting is not charged) for each request, the event
loop's thread and the page thread's together. A profiler, not a benchmark: nothing is
written to bench/results.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.signals import request_finished, request_started
from django.db.backends.signals import connection_created

from bench.stack import platform_stack
from bench.web import students_and_pages

REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "100"))
ROUNDS = int(os.environ.get("BENCH_PAGE_ROUNDS", "5"))
# A worker that holds the learner's session: its queue is never read here, so a run is sent
# as to a live kernel and stays queued (each request expires after a minute).
HOLDER = "interactive@bench-web-pages"
CELL = {"cells": [{"key": "cell:1", "code": "sum(range(10**5))"}]}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""


class AsgiClient:
    """Calls an ASGI application as uvicorn does, with the student's cookies."""

    def __init__(self, application: Callable[..., Any], cookies: dict[str, str]) -> None:
        self.application = application
        self.cookies = cookies
        self.loop = asyncio.new_event_loop()
        self.headers: list[tuple[bytes, bytes]] = []

    def send(self, request: Request) -> int:
        """The response's status; its headers are kept in `self.headers`."""
        return self.loop.run_until_complete(self._send(request))

    def csrf_token(self, path: str) -> str:
        """The CSRF cookie a page sets (the page's form would send it back)."""
        self.send(Request("GET", path))
        for header, value in self.headers:
            if header.lower() == b"set-cookie" and value.startswith(b"csrftoken="):
                return value.split(b";", 1)[0].split(b"=", 1)[1].decode()
        raise RuntimeError(f"{path} set no CSRF cookie")

    async def _send(self, request: Request) -> int:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = [(b"host", b"127.0.0.1"), (b"cookie", cookie.encode())]
        if request.method == "POST":
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(request.body)).encode()),
                (b"x-csrftoken", self.cookies.get("csrftoken", "").encode()),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": request.path,
            "raw_path": request.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": request.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.application(scope, receive, send)
        self.headers = sent[0]["headers"]
        return int(sent[0]["status"])


class PageProfiler:
    """cProfile in the page thread (the pool has one), from request_started to
    request_finished: Django sends both in the thread that handles the request."""

    def __init__(self) -> None:
        self.current: cProfile.Profile | None = None

    def started(self, **_: Any) -> None:
        if self.current is None:
            self.current = cProfile.Profile(time.thread_time)
        self.current.enable()

    def finished(self, **_: Any) -> None:
        if self.current is not None:
            self.current.disable()

    def collect(self) -> cProfile.Profile | None:
        collected, self.current = self.current, None
        return collected


def requests_of(pages: dict[str, str], submission_id: str) -> dict[str, Request]:
    named = {name: Request("GET", path.format(id=submission_id)) for name, path in pages.items()}
    named["run_cell"] = Request("POST", pages["exercise"] + "kernel/run", json.dumps(CELL).encode())
    return named


def hold_session(learner_id: int, exercise_path: str) -> None:
    """The learner's live session of the exercise, held by HOLDER, which reports in (called
    once Django runs on the bench stack's settings, which these modules read)."""
    from campus.redis_client import redis_client
    from courses import routing
    from courses.learn.sessions import record_key
    from courses.models import Exercise

    exercise = Exercise.objects.get(slug=exercise_path.rstrip("/").rsplit("/", 1)[-1])
    routing.worker_report(worker=HOLDER, held=1, capacity=100)
    record = {"worker": HOLDER, "sid": uuid.uuid4().hex, "last_activity": time.time()}
    redis_client().set(record_key(learner_id, exercise.pk), json.dumps(record), ex=3600)


def count_queries() -> list[int]:
    """A counter of the queries run on every database connection opened from now on."""
    counted = [0]

    def counter(execute: Any, sql: str, *rest: Any) -> Any:
        counted[0] += 1
        return execute(sql, *rest)

    def wrap(connection: Any, **_: Any) -> None:
        if counter not in connection.execute_wrappers:
            connection.execute_wrappers.append(counter)

    connection_created.connect(wrap, weak=False)
    return counted


def measure(client: AsgiClient, request: Request, queries: list[int]) -> tuple[float, int]:
    """CPU ms per request (the fewest of ROUNDS rounds), and the queries of one request."""
    status = client.send(request)  # warm: templates, caches, the page thread
    assert status in (200, 202), (request, status)
    before = queries[0]
    client.send(request)
    per_request = queries[0] - before
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(REQUESTS):
            client.send(request)
        rounds.append((time.process_time() - started) / REQUESTS * 1000)
    return min(rounds), per_request


def profile(client: AsgiClient, request: Request, pages: PageProfiler) -> pstats.Stats:
    loop = cProfile.Profile(time.thread_time)
    for _ in range(REQUESTS):
        loop.runcall(client.send, request)
    stats = pstats.Stats(loop)
    page = pages.collect()
    if page is not None:
        stats.add(page)
    return stats


def main(only: list[str], with_profile: bool) -> None:
    # No warm kernels, and no worker reads the interactive queues: nothing here runs a cell.
    worker = ["-Q", "default", "--concurrency", "1"]
    env = {"WEB_THREADS": "1"}
    with platform_stack(
        seed_demo=True, web_workers=1, pool_size=0, worker=worker, env_extra=env
    ) as stack:
        stack.django()
        # The project's modules, once Django runs on this stack's settings.
        from config.asgi import application
        from courses.models import Submission

        students, pages = students_and_pages(1)
        cookie, submission_id = students[0].split("|")
        name, value = cookie.split("=", 1)
        queries = count_queries()  # before the page thread opens its connection
        client = AsgiClient(application, {name: value})
        client.cookies["csrftoken"] = client.csrf_token(pages["my_courses"])
        profiler = PageProfiler()
        total = 0.0
        for label, request in requests_of(pages, submission_id).items():
            if only and label not in only:
                continue
            learner_id = Submission.objects.get(pk=submission_id).learner_id
            hold_session(learner_id, pages["exercise"])
            cpu_ms, count = measure(client, request, queries)
            total += cpu_ms
            print(f"{label:18} {cpu_ms:6.2f} ms CPU  {count:2} queries", flush=True)
            if with_profile:
                request_started.connect(profiler.started)
                request_finished.connect(profiler.finished)
                profile(client, request, profiler).sort_stats("cumulative").print_stats(40)
                request_started.disconnect(profiler.started)
                request_finished.disconnect(profiler.finished)
        print(f"sum {total:.2f} ms; load average {os.getloadavg()}")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--profile"]
    main(arguments, "--profile" in sys.argv)
