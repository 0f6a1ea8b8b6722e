"""Grading throughput of real exercises, and a deadline storm, through the whole platform.

Merges its figures into bench/results/grading.json (`make bench BENCH=throughput`, or all
of grading's figures with `make bench BENCH=grading`). On a fresh platform (bench.stack:
the web server, one grading worker as `make run` starts it, Redis, the demo courses):

- real_exercise_graded_per_s: a burst of BENCH_REAL_BURST (500) submissions of each demo
  exercise that calls no model (its reference solution, found in the seeded demo: every
  exercise whose code never names open_models and that has automatic tests), sent at once
  over HTTP by the class; graded per second from the first sent to the last grade. The
  slowest exercise counts; the trivial benchmark notebook is the same run's baseline.
- storm_drain_s: BENCH_STORM (2,000) submissions of the intro course's first exercise sent
  within BENCH_STORM_WINDOW_S (60 s) by BENCH_STORM_STUDENTS (200) students, one in three
  wrong (0 points), the rest right (full marks): seconds from the first submission to the
  last grade, with lost, duplicated and wrong-score counts. Then the same storm on a fresh
  PostgreSQL database (storm_drain_s_postgres), created on BENCH_POSTGRES_URL's server and
  dropped afterwards (BENCH_POSTGRES_URL="" skips it).

Each database runs in its own process: Django is set up once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

import psycopg

from bench import notebooks, storm
from bench.stack import ROOT, platform_stack, write_results

BURST = int(os.environ.get("BENCH_REAL_BURST", "500"))
STORM = int(os.environ.get("BENCH_STORM", "2000"))
STORM_STUDENTS = int(os.environ.get("BENCH_STORM_STUDENTS", "200"))
STORM_WINDOW_S = float(os.environ.get("BENCH_STORM_WINDOW_S", "60"))
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Without any progress for this long, what is left counts as lost.
STALL_S = float(os.environ.get("BENCH_STALL_S", "180"))
TRIVIAL = "bench-trivial"
STORM_EXERCISE = "mean-and-plot"  # the intro course's first exercise, as the storm


def real_exercises() -> dict[str, tuple[str, dict[str, Any], Decimal]]:
    """slug → (submit path, reference notebook, full marks): the trivial notebook and each
    seeded demo exercise that calls no model and has automatic tests."""
    from courses.assignment import parse_exercise
    from courses.exercises.services import exercise_create
    from courses.models import Course, Exercise, Module

    intro = Course.objects.get(slug="intro-scientific-python")
    exercise_create(
        module=Module.objects.filter(course=intro).first(),
        title="Trivial",
        slug=TRIVIAL,
        notebook=notebooks.small(),
    )
    found = {}
    for exercise in Exercise.objects.select_related("module__course__organization"):
        code = "\n".join(
            "".join(cell["source"])
            for cell in exercise.source["cells"]
            if cell["cell_type"] == "code"
        )
        auto = sum(t.points for t in parse_exercise(data=exercise.source).test_cells)
        if "open_models" in code or not auto:
            continue
        course = exercise.module.course
        path = f"/courses/{course.organization.slug}/{course.slug}/exercises/{exercise.slug}/submit"
        found[exercise.slug] = (path, exercise.source, Decimal(str(auto)).quantize(Decimal("0.01")))
    return found


def _wrong(notebook: dict[str, Any]) -> dict[str, Any]:
    """The intro exercise answered wrongly: `mean` returns 0 (both tests fail)."""
    wrong = json.loads(json.dumps(notebook))
    for cell in wrong["cells"]:
        if "def mean(values):" in "".join(cell["source"]):
            cell["source"] = "def mean(values):\n    return 0\n"
    return wrong


def _burst(url: str, students: list[storm.Student], path: str, nb: dict, score: Decimal):
    body = json.dumps(nb).encode()
    plan = [(0.0, students[i % len(students)], path, body, score) for i in range(BURST)]
    sent = storm.Sent()
    storm.send(url, plan, sent)
    return storm.drain(sent, timeout_s=STALL_S)


def _storm(url: str, students: list[storm.Student], exercises: dict) -> dict[str, Any]:
    path, right, full = exercises[STORM_EXERCISE]
    right_body, wrong_body = json.dumps(right).encode(), json.dumps(_wrong(right)).encode()
    plan = []
    for n in range(STORM):
        # spread evenly over the window; each student submits every len(students) slots
        wrong = n % 3 == 2
        plan.append(
            (
                n * STORM_WINDOW_S / STORM,
                students[n % len(students)],
                path,
                wrong_body if wrong else right_body,
                Decimal("0.00") if wrong else full,
            )
        )
    sent = storm.Sent()
    storm.send(url, plan, sent)
    return storm.drain(sent, timeout_s=STALL_S)


def measure(database: str) -> dict[str, Any]:
    """The figures on one database ("sqlite": bursts and storm; "postgres": the storm)."""
    env = {}
    if database == "postgres":
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    with platform_stack(seed_demo=True, env_extra=env) as stack:
        stack.django()
        exercises = real_exercises()
        students = storm.enroll_students(max(STORM_STUDENTS, 1))
        # warm up the worker: one of each, graded, before anything is timed
        for path, nb, score in exercises.values():
            sent = storm.Sent()
            storm.send(stack.url, [(0.0, students[0], path, json.dumps(nb).encode(), score)], sent)
            storm.drain(sent, timeout_s=STALL_S)
        figures: dict[str, Any] = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
        if database == "sqlite":
            figures["bursts"] = {
                slug: _burst(stack.url, students, path, nb, score)
                for slug, (path, nb, score) in exercises.items()
            }
        started = time.monotonic()
        figures["storm"] = _storm(stack.url, students, exercises)
        figures["storm"]["wall_s"] = round(time.monotonic() - started, 1)
        figures["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def _measured(database: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.throughput", "--measure", database],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _on_postgres() -> dict[str, Any]:
    """The storm on a database of its own on POSTGRES_URL's server, dropped afterwards."""
    name = f"ostp_bench_{os.getpid()}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        base = POSTGRES_URL.rsplit("/", 1)[0]
        os.environ["BENCH_DATABASE_URL"] = f"{base}/{name}"
        return _measured("postgres")
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def figures() -> dict[str, Any]:
    """The throughput figures, as grading.json holds them."""
    started = time.monotonic()
    sqlite = _measured("sqlite")
    bursts = sqlite["bursts"]
    real = {slug: b for slug, b in bursts.items() if slug != TRIVIAL}
    slowest = min(real, key=lambda slug: real[slug]["graded_per_s"])
    out: dict[str, Any] = {
        "real_exercise_graded_per_s": real[slowest]["graded_per_s"],
        "real_exercise_slowest": slowest,
        "real_exercise_graded_per_s_each": {slug: b["graded_per_s"] for slug, b in real.items()},
        "real_exercise_baseline_trivial_per_s": bursts[TRIVIAL]["graded_per_s"],
        "real_exercise_bursts": bursts,
        "real_exercise_burst": BURST,
        "storm_drain_s": sqlite["storm"]["drain_s"],
        "storm_sqlite": sqlite["storm"],
        "storm_size": {
            "submissions": STORM,
            "students": STORM_STUDENTS,
            "window_s": STORM_WINDOW_S,
        },
        "throughput_load_average": {"sqlite": sqlite["load_average_at_start"]},
    }
    if POSTGRES_URL:
        postgres = _on_postgres()
        out["storm_drain_s_postgres"] = postgres["storm"]["drain_s"]
        out["storm_postgres"] = postgres["storm"]
        out["throughput_load_average"]["postgres"] = postgres["load_average_at_start"]
    out["throughput_load_average"]["end"] = [round(x, 2) for x in os.getloadavg()]
    out["throughput_cores"] = os.cpu_count()
    out["throughput_bench_s"] = round(time.monotonic() - started)
    return out


def main() -> dict[str, Any]:
    """grading.json as it was, with these figures merged in."""
    results = ROOT / "bench" / "results" / "grading.json"
    merged = json.loads(results.read_text()) if results.exists() else {}
    merged.update(figures())
    return merged


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2])), flush=True)
    else:
        write_results("grading", main())
    sys.exit(0)
