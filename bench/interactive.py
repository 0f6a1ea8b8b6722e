"""Benchmark: a `1+1` cell through the web API to the learner's kernel session and back.

Starts its own platform (embedded Redis, SQLite, a `-P threads` Celery worker holding the
session, uvicorn), logs in as the demo student, keeps the page's event stream open, and
times POST kernel/run → the `done` event of that cell on the stream (its output first).
Writes bench/results/interactive.json. Run: `python -m bench.interactive` (PYTHONPATH=.:platform).
"""

import http.client
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sandbox.launch import sandbox_mode

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "interactive.json"
WARMUP = 5
RUNS = int(os.environ.get("BENCH_INTERACTIVE_RUNS", "200"))
PORT = int(os.environ.get("BENCH_PORT", "8765"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Platform:
    """Redis, the database, a worker and the web server, for this run only."""

    def __init__(self) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="ostp-bench-"))
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> dict[str, str]:
        from config.embedded_redis import start_redis

        self.redis = start_redis(data_dir=self.var / "redis", persist=False)
        env = dict(os.environ)
        env.update(
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
            DJANGO_SETTINGS_MODULE="config.settings",
            VAR_DIR=str(self.var),
            REDIS_URL=self.redis.url,
            HTTPS="0",
            DEMO_PASSWORD="bench-password",  # noqa: S106 (a throwaway database)
        )
        os.environ.update(env)
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([python, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True)
        celery = [python, "-m", "celery", "-A", "config", "worker", "-P", "threads"]
        self._spawn([*celery, "-Q", "interactive", "-n", "bench@%h", "-l", "WARNING"], env)
        self._spawn(
            [python, "-m", "uvicorn", "config.asgi:application", "--port", str(PORT),
             "--log-level", "warning", "--no-access-log"],
            env,
        )  # fmt: skip
        return env

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        self.processes.append(subprocess.Popen(argv, cwd=ROOT, env=env))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.redis.stop()


class Browser:
    """The page's side: a session cookie, the CSRF token and the event stream."""

    def __init__(self, exercise_path: str, session_id: str) -> None:
        self.path = exercise_path
        self.cookies = f"sessionid={session_id}"
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.csrf = ""
        self.parts: list[tuple[float, float]] = []
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)

    def open_page(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
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
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
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
            "Referer": f"http://127.0.0.1:{PORT}{self.path}",
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


def _login_session() -> tuple[str, str]:
    import django

    django.setup()
    from django.test import Client

    from campus.models import User
    from courses.demo.services import DEMO_COURSE_SLUG, DEMO_EXERCISE_SLUG, DEMO_ORG_SLUG

    client = Client()
    client.force_login(User.objects.get(email="student@demo.edu"))
    path = f"/courses/{DEMO_ORG_SLUG}/{DEMO_COURSE_SLUG}/exercises/{DEMO_EXERCISE_SLUG}/"
    return path, client.cookies["sessionid"].value


def _wait_for_web() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/accounts/login/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the web server did not start")


def main() -> None:
    load_before = os.getloadavg()[0]
    platform = Platform()
    try:
        platform.start()
        _wait_for_web()
        path, session_id = _login_session()
        browser = Browser(path, session_id)
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
            "cell_roundtrip_ms_p95": round(_percentile(times, 0.95), 2),
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
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
