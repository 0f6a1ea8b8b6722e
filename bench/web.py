"""A class clicking through the site: 200 students, with and without think time.

Writes bench/results/web.json. Each configuration gets its own fresh stack with the demo
course and 200 enrolled students (sessions made directly: 200 password hashes would
measure PBKDF2): the baseline, one web process with Django's own ASGI handler (a thread
per request), as before; then the new default, one process per core, synchronous pages in
config.handler's pool of WEB_THREADS threads. The load average is recorded with each.
Pages: My courses, the course outline, a lesson, the exercise page, a submission's status.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from bench.stack import percentile, platform_stack, write_results
from config.capacity import web_threads, web_workers

STUDENTS = int(os.environ.get("BENCH_STUDENTS", "200"))
SATURATION_S = float(os.environ.get("BENCH_SATURATION_S", "30"))
THINK_S = float(os.environ.get("BENCH_THINK_S", "5"))
THINK_RUN_S = float(os.environ.get("BENCH_THINK_RUN_S", "40"))


def students_and_pages(count: int) -> tuple[list[str], dict[str, str]]:
    """Session cookies of `count` enrolled students, and the pages' paths by name."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from campus.models import User
    from courses.models import (
        Cohort,
        Enrollment,
        Exercise,
        Lesson,
        Submission,
        SubmissionStatus,
    )

    cohort = Cohort.objects.select_related("course__organization").first()
    assert cohort is not None
    course = cohort.course
    exercise = Exercise.objects.filter(module__course=course).first()
    lesson = Lesson.objects.filter(module__course=course).first()
    assert exercise is not None and lesson is not None
    users = [User(email=f"student{n}@bench.test") for n in range(count)]
    for user in users:
        user.set_unusable_password()  # they arrive with a session, never log in
    users = User.objects.bulk_create(users)
    Enrollment.objects.bulk_create(Enrollment(user=user, cohort=cohort) for user in users)
    cookies, submission_ids = [], []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
        submission_ids.append(
            Submission.objects.create(
                exercise=exercise, learner=user, cohort=cohort, status=SubmissionStatus.GRADED
            ).pk
        )
    base = f"/courses/{course.organization.slug}/{course.slug}/"
    pages = {
        "my_courses": "/courses/",
        "outline": base,
        "lesson": f"{base}lessons/{lesson.slug}/",
        "exercise": f"{base}exercises/{exercise.slug}/",
        "submission_status": "/courses/submissions/{id}/",
    }
    # each student sees their own submission
    return [f"{c}|{s}" for c, s in zip(cookies, submission_ids, strict=True)], pages


def _student(
    url: str, cookie: str, pages: dict[str, str], stop: float, think_s: float, out: list[Any]
) -> None:
    target = urlsplit(url)
    session, submission_id = cookie.split("|")
    connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
    names = list(pages)
    rng = random.Random(submission_id)
    if think_s:
        time.sleep(rng.uniform(0, think_s))  # students do not all click at the same instant
    while time.monotonic() < stop:
        name = rng.choice(names)
        path = pages[name].format(id=submission_id)
        started = time.perf_counter()
        ok = False
        # A keep-alive connection the server closed while the student was thinking fails
        # once without a request being served: a browser opens a new one, so do we.
        for _attempt in range(2):
            try:
                connection.request("GET", path, headers={"Cookie": session})
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                break
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(
                    target.hostname or "127.0.0.1", target.port, timeout=60
                )
        out.append((name, (time.perf_counter() - started) * 1000, ok, time.monotonic()))
        if think_s:
            time.sleep(rng.uniform(0.5 * think_s, 1.5 * think_s))
    connection.close()


def _run(url: str, students: list[str], pages: dict[str, str], seconds: float, think_s: float):
    out: list[Any] = []
    stop = time.monotonic() + seconds
    started = time.monotonic()
    threads = [
        threading.Thread(target=_student, args=(url, s, pages, stop, think_s, out), daemon=True)
        for s in students
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    per_page = {
        name: {
            "p50_ms": round(percentile([ms for n, ms, _, _ in out if n == name], 50), 1),
            "p95_ms": round(percentile([ms for n, ms, _, _ in out if n == name], 95), 1),
            "count": sum(1 for n, *_ in out if n == name),
        }
        for name in pages
        if any(n == name for n, *_ in out)
    }
    return {
        "requests_per_s": round(len(out) / elapsed, 1),
        "errors": sum(1 for _, _, ok, _ in out if not ok),
        "pages": per_page,
        "worst_page_p95_ms": max(page["p95_ms"] for page in per_page.values()),
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(workers: int, threads: int) -> dict[str, Any]:
    env = {"WEB_THREADS": str(threads)}
    with platform_stack(seed_demo=True, web_workers=workers, env_extra=env) as stack:
        stack.django()
        students, pages = students_and_pages(STUDENTS)
        _run(stack.url, students[:20], pages, 5, 0)  # warm up every web process
        load_before = _load()
        saturation = _run(stack.url, students, pages, SATURATION_S, 0)
        saturation["load_average"] = {"before": load_before, "after": _load()}
        think = _run(stack.url, students, pages, THINK_RUN_S, THINK_S)
        think["load_average_after"] = _load()
    return {
        "web_workers": workers,
        "web_threads": threads,
        "saturation": saturation,
        "think_time": think,
    }


def _measured(workers: int, threads: int) -> dict[str, Any]:
    """One configuration in its own process: Django is set up once per process."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.web", "--measure", str(workers), str(threads)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> dict[str, Any]:
    load = os.getloadavg()
    baseline = _measured(1, 0)
    new = _measured(web_workers(), web_threads())
    return {
        "think_time_page_ms_p95": new["think_time"]["worst_page_p95_ms"],
        "saturation_requests_per_s": new["saturation"]["requests_per_s"],
        "saturation_exercise_page_ms_p95": new["saturation"]["pages"]["exercise"]["p95_ms"],
        "baseline_one_process": baseline,
        "new_default": new,
        "students": STUDENTS,
        "think_s": THINK_S,
        "saturation_s": SATURATION_S,
        "load_average_at_start": [round(x, 2) for x in load],
        "cores": os.cpu_count(),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]))), flush=True)
    else:
        write_results("web", main())
    sys.exit(0)
