"""Grading through the real path: HTTP submit → Celery → sandbox → trusted grader → saved.

Writes bench/results/grading.json. Run with `make bench` (or `python -m bench.grading`); the
real exercises' throughput and the deadline storms (bench.throughput) are part of it, and
`make bench BENCH=throughput` measures only those, merged into the same file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bench import notebooks, throughput
from bench.stack import ROOT, Browser, Stack, percentile, platform_stack, write_results
from sandbox import Limits, runtime, start_kernel
from sandbox.trusted import CheckCell, run_tests

LATENCY_RUNS = int(os.environ.get("BENCH_RUNS", "60"))
BURST = int(os.environ.get("BENCH_BURST", "500"))
PASSWORD = "bench-password-1"


def _setup(stack: Stack) -> dict[str, str]:
    """A course with the two exercises and one learner; returns the exercises' submit paths."""
    stack.django()
    from campus.models import Organization, User
    from courses.exercises.services import exercise_create
    from courses.models import Cohort, Course, Enrollment, Module

    org = Organization.objects.create(name="Bench University", slug="bench", country="FR")
    course = Course.objects.create(organization=org, slug="bench", title="Bench", published=True)
    module = Module.objects.create(course=course, title="Bench", position=1)
    cohort = Cohort.objects.create(course=course, name="Bench")
    learner = User.objects.create_user("learner@bench.test", PASSWORD)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=learner, email=learner.email, verified=True, primary=True)
    Enrollment.objects.create(user=learner, cohort=cohort)
    paths = {}
    for slug, nb in [("small", notebooks.small()), ("heavy", notebooks.heavy())]:
        exercise_create(module=module, title=slug, slug=slug, notebook=nb)
        paths[slug] = f"/courses/bench/bench/exercises/{slug}/submit"
    return paths


def _wait_graded(browser: Browser, status_url: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = browser.get_json(status_url)
        if state["status"] in ("graded", "failed", "error"):
            return state
        time.sleep(0.002)
    raise RuntimeError(f"{status_url} not graded within {timeout_s} s")


def _latency(browser: Browser, path: str) -> list[float]:
    samples = []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        submitted = browser.post_json(path, notebooks.small())
        state = _wait_graded(browser, submitted["status_url"])
        samples.append((time.perf_counter() - started) * 1000)
        assert state["score"] == "2.00", state
        time.sleep(0.5)  # learners click apart: the pool refills between two submissions
    return samples


def _burst(browser: Browser, path: str) -> float:
    started = time.perf_counter()
    urls = [browser.post_json(path, notebooks.small())["status_url"] for _ in range(BURST)]
    for url in urls:
        _wait_graded(browser, url, timeout_s=900)
    return BURST / (time.perf_counter() - started)


def _heavy_ratio(browser: Browser, path: str) -> tuple[float, float]:
    code = notebooks.HEAVY_CODE + "\n" + notebooks.HEAVY_TESTS[0][0] + "\n"
    started = time.perf_counter()
    subprocess.run([str(runtime.runtime_python()), "-c", code], check=True)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    state = _wait_graded(browser, browser.post_json(path, notebooks.heavy())["status_url"])
    graded = time.perf_counter() - started
    assert state["score"] == "1.00", state
    return graded / bare, bare


def main() -> dict[str, Any]:
    # First, while the machine is quiet: after the bursts below the load stays up for
    # minutes, and the side channel waits differently on a busy machine.
    callbacks = callback_figures()
    with platform_stack() as stack:
        paths = _setup(stack)
        browser = Browser(stack.url)
        browser.login("learner@bench.test", PASSWORD)
        browser.post_json(paths["small"], notebooks.small())  # warm up the worker
        time.sleep(2)
        latency = _latency(browser, paths["small"])
        ratio, bare_s = _heavy_ratio(browser, paths["heavy"])
        per_s = _burst(browser, paths["small"])
    figures: dict[str, Any] = {
        "submit_to_graded_ms_p50": round(percentile(latency, 50), 1),
        "submit_to_graded_ms_p95": round(percentile(latency, 95), 1),
        "graded_per_s": round(per_s, 2),
        "heavy_overhead_ratio": round(ratio, 3),
        "heavy_bare_python_s": round(bare_s, 3),
        "latency_runs": LATENCY_RUNS,
        "burst": BURST,
    }
    figures.update(callbacks)
    figures.update(_competitors())
    # real exercises' bursts and the deadline storms, on fresh platforms of their own
    figures.update(throughput.figures())
    return figures


# ------------------------------------------------------------------ test functions

CALLBACK_CALLS = 10_000
CALLBACK_LOOP = (
    "import time\n"
    "def timed_loop(f, n):\n"
    "    started = time.perf_counter()\n"
    "    for i in range(n):\n"
    "        f(i * 1e-3)\n"
    "    return time.perf_counter() - started\n"
    "def local(x):\n"
    "    return x * x - 2.0\n"
)


def callback_figures(calls: int = CALLBACK_CALLS) -> dict[str, Any]:
    """Learner code calling a test's function ``calls`` times, against the same loop calling
    a local function (the baseline, same run): the extra milliseconds per call (sandboxed
    kernel, real trusted runner), with both loops' seconds and the load beside them."""
    kernel = start_kernel(limits=Limits(cell_timeout_s=300))
    try:
        kernel.execute(CALLBACK_LOOP, timeout=60)
        tests = [
            CheckCell("local", f"timed_loop(local, {calls})"),
            CheckCell("test", f"def f(x):\n    return x * x - 2.0\ntimed_loop(f, {calls})"),
        ]
        local, through = run_tests(kernel, tests, cell_timeout_s=300)
    finally:
        kernel.shutdown()
    if local.value is None or through.value is None:
        raise RuntimeError(f"the callback loops failed: {local} {through}")
    return {
        "callback_overhead_ms_per_call": round((through.value - local.value) / calls * 1000, 4),
        "callback_local_loop_s": round(local.value, 4),
        "callback_test_function_loop_s": round(through.value, 4),
        "callback_calls": calls,
        "callback_load_1min": round(os.getloadavg()[0], 2),
        # With fewer runnable processes than CPUs both sides poll before they sleep.
        "callback_cpus": os.cpu_count(),
    }


def callbacks_only() -> dict[str, Any]:
    """`python -m bench.grading callbacks` (a few seconds): only these figures, merged into
    grading.json."""
    results = ROOT / "bench" / "results" / "grading.json"
    figures = json.loads(results.read_text()) if results.exists() else {}
    figures.update(callback_figures())
    return figures


def _competitors() -> dict[str, Any]:
    from bench import competitors

    return competitors.measure()


if __name__ == "__main__":
    write_results("grading", callbacks_only() if sys.argv[1:] == ["callbacks"] else main())
    sys.exit(0)
