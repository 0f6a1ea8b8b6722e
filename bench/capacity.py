"""Benchmark: a whole class at once on one host's interactive workers.

Starts its own platform (bench.stack) twice in one run: first as it was configured before
(one interactive worker, a constant 16 sessions per worker, 64 slot uids: the baseline),
then with today's defaults (capacity derived from memory, as many interactive workers as
`make run` starts: config.capacity.interactive_workers). Against each, learners enrolled
in the demo course open the demo exercise and run cells through the web API; the cell's
`done` event is read from the session's Redis channel (what the page's event stream relays).

- class burst: 100 learners each run a small cell, their first requests spread over 10 s
  (cold: the time includes getting a kernel), once the worker has its spare kernels ready
  (a class arrives at a worker that has been up a while);
- active: 50 of them run `sum(range(10**5))` at the same moment, in ACTIVE_ROUNDS (3) rounds
  one after the other: the percentiles are over every round's cells (one burst of 50 gives a
  p95 that moves by tens of ms from run to run), each round's p95 beside them;
- sessions held: more learners open a session until SESSIONS_WANTED distinct learners hold
  one; then the unique memory (USS) of the worker's kernels, plus what the worker itself
  grew by, per idle session.

Writes bench/results/capacity.json. Run: `make bench BENCH=capacity`.
"""

import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.stack import Stack, percentile, platform_stack, write_results
from config.capacity import interactive_workers

BURST = int(os.environ.get("BENCH_CAPACITY_BURST", "100"))
BURST_WINDOW_S = 10.0
ACTIVE = int(os.environ.get("BENCH_CAPACITY_ACTIVE", "50"))
ACTIVE_ROUNDS = int(os.environ.get("BENCH_CAPACITY_ACTIVE_ROUNDS", "3"))
SESSIONS_WANTED = int(os.environ.get("BENCH_CAPACITY_SESSIONS", "220"))
WAIT_S = 120.0
WARM_WAIT_S = 180.0
# Before, a learner beyond the 16th was refused; here they wait in line, and the baseline
# gives up on them sooner.
BASELINE_WAIT_S = 20.0
CSRF = "b" * 32
THREADS = "160"
BASELINE_ENV = {"INTERACTIVE_MAX_SESSIONS": "16", "SANDBOX_UID_COUNT": "64"}


def worker_options(name: str, queues: str = "interactive,default") -> list[str]:
    return ["-P", "threads", "-Q", queues, "-n", name, "--concurrency", THREADS]


class Class:
    """Learners of the demo course, each with a logged-in session; events from Redis."""

    def __init__(self, stack: Stack, count: int, *, wait_s: float) -> None:
        self.wait_s = wait_s
        stack.django()
        from django.test import Client

        from campus.models import User
        from courses.demo.services import DEMO_COURSE_SLUG, DEMO_EXERCISE_SLUG, DEMO_ORG_SLUG
        from courses.models import Enrollment, Exercise

        student = Enrollment.objects.select_related("cohort").get(
            user__email="student@demo.edu", cohort__course__slug=DEMO_COURSE_SLUG
        )
        self.exercise_id = Exercise.objects.get(
            slug=DEMO_EXERCISE_SLUG, module__course__slug=DEMO_COURSE_SLUG
        ).pk
        self.path = f"/courses/{DEMO_ORG_SLUG}/{DEMO_COURSE_SLUG}/exercises/{DEMO_EXERCISE_SLUG}/"
        self.port = stack.port
        self.learners: list[tuple[int, str, str]] = []  # (user id, session id, csrf)
        for n in range(count):
            user = User.objects.create_user(email=f"learner{n}@bench.edu", password=None)
            Enrollment.objects.create(user=user, cohort=student.cohort)
            client = Client()
            client.force_login(user)
            self.learners.append((user.pk, client.cookies["sessionid"].value, CSRF))
        self.events: dict[int, queue.Queue[tuple[float, dict[str, Any]]]] = {
            uid: queue.Queue() for uid, _, _ in self.learners
        }
        # Where a cell's time went: seconds from the POST to each event of its run.
        self.stages: dict[str, list[float]] = {}
        self._listen(stack.env["REDIS_URL"])

    def _listen(self, url: str) -> None:
        import redis

        pubsub = redis.Redis.from_url(url).pubsub()
        pubsub.psubscribe("interactive:*:events")
        ready = threading.Event()

        def loop() -> None:
            try:
                listen(pubsub)
            except redis.ConnectionError:
                return  # the stack stopped

        def listen(pubsub: Any) -> None:
            for message in pubsub.listen():
                if message["type"] == "psubscribe":
                    ready.set()
                    continue
                learner_id = int(message["channel"].decode().split(":")[1])
                if learner_id in self.events:
                    self.events[learner_id].put((time.perf_counter(), json.loads(message["data"])))

        threading.Thread(target=loop, daemon=True).start()
        ready.wait(10)

    def run(self, index: int, key: str, code: str) -> float | None:
        """Seconds from POST kernel/run to the cell's `done` event; None if it never came."""
        user_id, session_id, csrf = self.learners[index]
        body = json.dumps({"cells": [{"key": key, "code": code}]}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{self.path}kernel/run",
            data=body,
            headers={
                "Cookie": f"sessionid={session_id}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "Content-Type": "application/json",
                "Referer": f"http://127.0.0.1:{self.port}{self.path}",
            },
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 202, response.status
        seen = {"accepted": time.perf_counter() - started}
        deadline = time.monotonic() + self.wait_s
        events = self.events[user_id]
        while time.monotonic() < deadline:
            try:
                at, event = events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            state = str(event.get("state"))
            if event.get("type") in ("kernel", "run") and at >= started and state not in seen:
                seen[state] = at - started
            if event.get("cell") == key and state in ("done", "error", "skipped"):
                if state != "done":
                    return None
                if "duration_ms" in event:
                    seen["in_kernel"] = event["duration_ms"] / 1000
                for stage, seconds in seen.items():
                    self.stages.setdefault(stage, []).append(seconds)
                return seen["done"]
        return None


def _together(jobs: list[tuple[float, Any]]) -> list[Any]:
    """Run each job (delay before starting, callable) in its own thread; their results."""
    results: list[Any] = [None] * len(jobs)
    start = time.monotonic()

    def one(index: int, delay: float, job: Any) -> None:
        time.sleep(max(0.0, start + delay - time.monotonic()))
        results[index] = job()

    threads = [
        threading.Thread(target=one, args=(i, delay, job)) for i, (delay, job) in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _active_round(group: Class, key: str) -> list[float | None]:
    """ACTIVE learners run `sum(range(10**5))` at the same moment (cell `key`)."""
    return _together(
        [(0.0, lambda i=i: group.run(i, key, "sum(range(10**5))")) for i in range(ACTIVE)]
    )


def _ms(values: list[float | None]) -> dict[str, Any]:
    done = [v * 1000 for v in values if v is not None]
    return {
        "p50": round(statistics.median(done), 1) if done else None,
        "p95": round(percentile(done, 95), 1) if done else None,
        "completed": len(done),
        "without_kernel": len(values) - len(done),
    }


RUN_ROUTE_TIMES = "ostp:web:latency:courses:kernel_run"  # config.timing's samples (ms)


def _stages(group: Class, redis_url: str) -> dict[str, float]:
    """Median seconds (as ms) from the POST to each event: accepted (the web's 202),
    queued, starting, ready (a kernel is the session's), running, done; in_kernel is the
    cell's own time as the worker measured it; in_view, the web's own time in the view
    (its middleware's timing: not the wait for a web process to take the request)."""
    import redis

    figures = {
        stage: round(statistics.median(values) * 1000, 1) for stage, values in group.stages.items()
    }
    group.stages = {}
    time.sleep(1.5)  # each web process sends its timings once a second
    client = redis.Redis.from_url(redis_url)
    in_view = [float(ms) for ms in client.lrange(RUN_ROUTE_TIMES, 0, -1)]
    client.delete(RUN_ROUTE_TIMES)
    if in_view:
        figures["in_view"] = round(statistics.median(in_view), 1)
    return figures


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def _uss_mib(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    kib = sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Private_"))
    return kib / 1024


def _kernel_pids(worker_pid: int) -> list[int]:
    """The worker's kernels: its zygote's children (each the pid 1 of its namespace), warm
    ones included. The zygote runs the runtime's Python (bwrap, its parent, names it too)."""
    zygotes = []
    for pid in _descendants(worker_pid):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"zygote_server" in b" ".join(argv) and b"python" in argv[0]:
            zygotes.append(pid)
    return [kid for zygote in zygotes for kid in _descendants(zygote)]


def _worker_pids(stack: Stack, count: int) -> list[int]:
    """The bench's `count` Celery worker processes (the stack's folder is in their
    environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if b"celery" in cmdline and stack.env["VAR_DIR"].encode() in environ:
                found.append(int(entry.name))
    if len(found) != count:
        raise RuntimeError(f"{len(found)} of the bench's {count} workers are running")
    return found


def _held(stack: Stack) -> int:
    import redis

    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    return sum(1 for _ in client.scan_iter(match="interactive:session:*", count=1000))


def _wait_for_spares(timeout_s: float = WARM_WAIT_S) -> tuple[int, float]:
    """A class arrives at a worker that has been up a while: wait until every interactive
    worker reports its spare kernels ready (or `timeout_s`). (kernels ready, seconds waited)"""
    from courses import routing

    started = time.monotonic()
    ready = 0
    while time.monotonic() - started < timeout_s:
        loads = [load for load in routing.workers_load() if load.alive(time.time())]
        ready = sum(load.warm for load in loads)
        if loads and all(load.spares and load.warm >= load.spares for load in loads):
            break
        time.sleep(0.5)
    return ready, round(time.monotonic() - started, 1)


def measure(env_extra: dict[str, str], *, wait_s: float, workers: int) -> dict[str, Any]:
    total = max(BURST, ACTIVE, SESSIONS_WANTED)
    env = {"DEMO_PASSWORD": "bench-password", **env_extra}
    more = tuple(worker_options(f"capacity{n}@%h", "interactive") for n in range(2, workers + 1))
    with platform_stack(
        worker=worker_options("capacity@%h"), more_workers=more, seed_demo=True, env_extra=env
    ) as stack:
        group = Class(stack, total, wait_s=wait_s)
        worker_pids = _worker_pids(stack, workers)
        worker_before = sum(_uss_mib(pid) for pid in worker_pids)
        fds_before = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in worker_pids)
        threads_before = sum(len(os.listdir(f"/proc/{pid}/task")) for pid in worker_pids)
        warm, warm_wait_s = _wait_for_spares()
        spacing = BURST_WINDOW_S / BURST
        burst = _together(
            [(i * spacing, lambda i=i: group.run(i, "burst", "1 + 1")) for i in range(BURST)]
        )
        burst_stages = _stages(group, stack.env["REDIS_URL"])
        rounds = [_active_round(group, f"active{n}") for n in range(ACTIVE_ROUNDS)]
        active = [seconds for cells in rounds for seconds in cells]
        active_stages = _stages(group, stack.env["REDIS_URL"])
        rest = range(BURST, SESSIONS_WANTED)
        _together([(0.05 * (i - BURST), lambda i=i: group.run(i, "open", "1")) for i in rest])
        time.sleep(2)  # let the last kernels settle into idle
        held = _held(stack)
        kernels = [kid for pid in worker_pids for kid in _kernel_pids(pid)]
        kernel_mib = statistics.fmean(_uss_mib(pid) for pid in kernels) if kernels else 0.0
        worker_growth = max(0.0, sum(_uss_mib(pid) for pid in worker_pids) - worker_before)
        fds = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in worker_pids) - fds_before
        threads = sum(len(os.listdir(f"/proc/{pid}/task")) for pid in worker_pids) - threads_before
        # A session's own memory: its kernel's unique pages, and its share of what the
        # worker grew by (sockets, buffers, the session's bookkeeping).
        return {
            "interactive_workers": workers,
            "sessions_held": held,
            "kernel_processes": len(kernels),
            "kernel_uss_mib_mean": round(kernel_mib, 1),
            "unique_mib_per_idle_session": round(kernel_mib + worker_growth / held, 1)
            if held
            else None,
            "worker_growth_mib_per_session": round(worker_growth / held, 2) if held else None,
            # What a live session costs the worker besides memory (threads: its pool's).
            "worker_fds_per_session": round(fds / held, 1) if held else None,
            "worker_threads_added": threads,
            "spare_kernels_ready_at_burst": warm,
            "spare_kernels_wait_s": warm_wait_s,
            "class_burst": _ms(burst) | {"stages_ms_p50": burst_stages},
            "active": _ms(active)
            | {
                "rounds_p95": [_ms(cells)["p95"] for cells in rounds],
                "stages_ms_p50": active_stages,
            },
        }


def measure_apart(which: str) -> dict[str, Any]:
    """`measure` in a process of its own: Django is set up once per process."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.capacity", "measure", which],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return figures


def main() -> None:
    if sys.argv[1:2] == ["measure"]:
        is_baseline = sys.argv[2] == "baseline"
        figures = measure(
            BASELINE_ENV if is_baseline else {},
            wait_s=BASELINE_WAIT_S if is_baseline else WAIT_S,
            # Before, one worker; now as `make run` starts them (config.capacity).
            workers=1 if is_baseline else interactive_workers(),
        )
        print(json.dumps(figures))
        return
    load_before = os.getloadavg()[0]
    baseline = measure_apart("baseline")
    load_middle = os.getloadavg()[0]
    new = measure_apart("new")
    result = {
        "benchmark": "capacity",
        "what": f"{BURST} learners open the exercise and run `1 + 1` within "
        f"{BURST_WINDOW_S:g} s (cold), {ACTIVE} run `sum(range(10**5))` at once "
        f"({ACTIVE_ROUNDS} rounds), then "
        f"up to {SESSIONS_WANTED} distinct learners hold a session; POST kernel/run → the "
        "cell's done event on the session's Redis channel",
        "sessions_held": new["sessions_held"],
        "sessions_held_baseline": baseline["sessions_held"],
        "unique_mib_per_idle_session": new["unique_mib_per_idle_session"],
        "unique_mib_per_idle_session_baseline": baseline["unique_mib_per_idle_session"],
        "class_burst_cell_ms_p50": new["class_burst"]["p50"],
        "class_burst_cell_ms_p95": new["class_burst"]["p95"],
        "class_burst_cell_ms_p50_baseline": baseline["class_burst"]["p50"],
        "class_burst_cell_ms_p95_baseline": baseline["class_burst"]["p95"],
        "class_burst_without_kernel": new["class_burst"]["without_kernel"],
        "class_burst_without_kernel_baseline": baseline["class_burst"]["without_kernel"],
        "active_cell_ms_p95": new["active"]["p95"],
        "active_cell_ms_p95_baseline": baseline["active"]["p95"],
        "details": {"new": new, "baseline": baseline},
        "baseline": "the same run, configured as before: one interactive worker, "
        "INTERACTIVE_MAX_SESSIONS=16, SANDBOX_UID_COUNT=64 (learners beyond 16 wait in line "
        "where they were refused); new: the interactive workers `make run` starts "
        "(config.capacity.interactive_workers)",
        "targets": {
            "sessions_held": ">= 200",
            "unique_mib_per_idle_session": "<= 20",
            "class_burst_cell_ms_p95": "<= 1000",
            "active_cell_ms_p95": "<= 300",
        },
        "cpu_count": os.cpu_count(),
        # This machine is shared: the load says how much else ran beside the benchmark.
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_between": round(load_middle, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }
    write_results("capacity", result)


if __name__ == "__main__":
    main()
