"""Benchmark: a `1+1` cell through the web API to the learner's kernel session and back.

Starts its own platform (bench.stack: embedded Redis, SQLite, uvicorn, here a `-P threads`
Celery worker holding the session), logs in as the demo student, keeps the page's event
stream open, and times POST kernel/run → the `done` event of that cell on the stream (its
output first). Writes bench/results/interactive.json. Run: `make bench BENCH=interactive`.
"""

import http.client
import json
import os
import queue
import statistics
import threading
import time
from typing import Any

from bench.stack import Stack, percentile, platform_stack, write_results
from sandbox.launch import sandbox_mode

WARMUP = 5
RUNS = int(os.environ.get("BENCH_INTERACTIVE_RUNS", "200"))


class Browser:
    """The page's side: a session cookie, the CSRF token and the event stream."""

    def __init__(self, exercise_path: str, session_id: str, port: int) -> None:
        self.port = port
        self.path = exercise_path
        self.cookies = f"sessionid={session_id}"
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.csrf = ""
        self.parts: list[tuple[float, float]] = []
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def open_page(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", self.path, headers={"Cookie": self.cookies})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("csrftoken="):
                self.csrf = header.split(";", 1)[0].split("=", 1)[1]
        self.cookies += f"; csrftoken={self.csrf}"
        threading.Thread(target=self._follow, daemon=True).start()
        assert self.events.get(timeout=30)["type"] == "hello"

    def _follow(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("GET", self.path + "kernel/events", headers={"Cookie": self.cookies})
        response = conn.getresponse()
        while line := response.readline():
            if line.startswith(b"data: "):
                self.events.put(json.loads(line[6:]))

    def run(self, key: str, code: str) -> tuple[float, list[dict[str, Any]]]:
        """Seconds from the request to the cell's `done` event, and its outputs. The time
        the POST itself took and the kernel's own time go to `self.parts`."""
        body = json.dumps({"cells": [{"key": key, "code": code}]})
        headers = {
            "Cookie": self.cookies,
            "X-CSRFToken": self.csrf,
            "Content-Type": "application/json",
            "Referer": f"http://127.0.0.1:{self.port}{self.path}",
        }
        started = time.perf_counter()
        self.conn.request("POST", self.path + "kernel/run", body=body, headers=headers)
        response = self.conn.getresponse()
        response.read()
        assert response.status == 202, response.status
        posted = time.perf_counter()
        outputs = []
        while True:
            event = self.events.get(timeout=120)
            if event.get("cell") != key:
                continue
            if event["type"] == "output":
                outputs.append(event["output"])
            elif event.get("state") in ("done", "error", "skipped"):
                assert event["state"] == "done", event
                done = time.perf_counter()
                self.parts.append(((posted - started) * 1000, event.get("duration_ms", 0.0)))
                return done - started, outputs


def _login_session(stack: Stack) -> tuple[str, str]:
    stack.django()
    from django.test import Client

    from campus.models import User
    from courses.demo.services import DEMO_COURSE_SLUG, DEMO_EXERCISE_SLUG, DEMO_ORG_SLUG

    client = Client()
    client.force_login(User.objects.get(email="student@demo.edu"))
    path = f"/courses/{DEMO_ORG_SLUG}/{DEMO_COURSE_SLUG}/exercises/{DEMO_EXERCISE_SLUG}/"
    return path, client.cookies["sessionid"].value


# The session's kernel lives in the worker process that started it: threads, one process.
INTERACTIVE_WORKER = ["-P", "threads", "-Q", "interactive,default", "-n", "bench@%h"]


def main() -> None:
    load_before = os.getloadavg()[0]
    with platform_stack(
        worker=INTERACTIVE_WORKER, seed_demo=True, env_extra={"DEMO_PASSWORD": "bench-password"}
    ) as stack:
        path, session_id = _login_session(stack)
        browser = Browser(path, session_id, stack.port)
        browser.open_page()
        first_s, _ = browser.run("warm-0", "1+1")  # starts the kernel
        for n in range(1, WARMUP):
            browser.run(f"warm-{n}", "1+1")
        times = []
        browser.parts.clear()
        for n in range(RUNS):
            elapsed, outputs = browser.run(f"cell-{n}", "1+1")
            assert outputs == [{"type": "text", "text": "2"}], outputs
            times.append(elapsed * 1000)
        result = {
            "benchmark": "interactive",
            "what": "POST kernel/run of `1+1` → Celery (worker holding the session) → "
            "sandboxed kernel → Redis pub/sub → SSE `done` event, seen by the client",
            "runs": RUNS,
            "cell_roundtrip_ms_p50": round(statistics.median(times), 2),
            "cell_roundtrip_ms_p95": round(percentile(times, 95), 2),
            "cell_roundtrip_ms_mean": round(statistics.fmean(times), 2),
            "cell_roundtrip_ms_min": round(min(times), 2),
            "cell_roundtrip_ms_max": round(max(times), 2),
            "post_ms_p50": round(statistics.median(p for p, _ in browser.parts), 2),
            "kernel_execute_ms_p50": round(statistics.median(k for _, k in browser.parts), 2),
            "first_run_with_kernel_start_ms": round(first_s * 1000, 1),
            "target_p50_ms": 50,
            "sandbox_mode": sandbox_mode(),
            "cpu_count": os.cpu_count(),
            # This machine is shared: the load says how much else ran beside the benchmark.
            "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
        }
    write_results("interactive", result)


if __name__ == "__main__":
    main()
