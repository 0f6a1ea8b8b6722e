"""Where a grading's time goes, stage by stage, for each demo exercise that calls no model.

`python -m bench stages` (about 2 minutes quiet): merges `grading_stages` into
bench/results/grading.json. Two figures per exercise:

- intrinsic: the reference notebook's code cells (tests included) run in a plain python
  process of the kernel runtime, outside the platform: CPU of the imports, and CPU of the
  cells once the imports are done (what a kernel forked from the pre-imported zygote pays);
- platform: BENCH_STAGE_RUNS gradings of the reference solution by the worker's own code
  (courses.grading.services.submission_grade_next, as the task calls it), in this process
  against a fresh SQLite database and Redis, with each stage's wall time and this thread's
  CPU time (ms per grading; nested stages overlap their parent). The sandbox's CPU (the
  kernel's cgroup) is reported apart; the trusted runner's child is not counted.

No web server and no Celery worker: the broker's share is the send of a message (a stage).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import notebooks
from bench.stack import ROOT, write_results
from bench.throughput import TRIVIAL, real_exercises

RUNS = int(os.environ.get("BENCH_STAGE_RUNS", "20"))
INTRINSIC = ROOT / "bench" / "nb" / "intrinsic.py"


class Stages:
    """Wall and thread CPU time per named stage, summed over the runs (this thread only)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.main = threading.get_ident()
        self.sandbox_cpu = 0.0  # the kernels' cgroups, as the CPU quota counts it

    def wrap(self, owner: Any, attribute: str, stage: str) -> None:
        inner = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self.main:
                return inner(*args, **kwargs)
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.wall[stage] += time.perf_counter() - wall
                self.cpu[stage] += time.thread_time() - cpu
                self.calls[stage] += 1

        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.wall.clear()
        self.cpu.clear()
        self.calls.clear()
        self.sandbox_cpu = 0.0

    def table(self, runs: int) -> dict[str, dict[str, float]]:
        return {
            stage: {
                "wall_ms": round(self.wall[stage] * 1000 / runs, 2),
                "cpu_ms": round(self.cpu[stage] * 1000 / runs, 2),
                "calls": round(self.calls[stage] / runs, 2),
            }
            for stage in self.wall
        }


def _instrument(stages: Stages) -> None:
    """Every stage of a grading, as the worker runs it (nested stages overlap their parent)."""
    from django.db.backends.base import base as db_base

    from courses import queues
    from courses.grading import kernels, pipeline, progress, recovery, services
    from lti import grades
    from sandbox.trusted import runner as trusted

    stages.wrap(services, "submission_pick_next", "task: pick the latest queued")
    stages.wrap(services, "submission_claim", "claim (DB write, RUNNING event)")
    stages.wrap(services, "environment_runtime", "course runtime lookup (DB)")
    stages.wrap(services, "parsed_exercise", "notebook parse")
    stages.wrap(pipeline, "merge_submission", "merge answers into the notebook")
    stages.wrap(kernels, "acquire_kernel", "kernel hand-out from the warm pool")
    stages.wrap(kernels, "grant_models", "model grant (Redis)")
    stages.wrap(trusted.TrustedRunner, "__enter__", "trusted runner start")
    stages.wrap(trusted.TrustedRunner, "run", "tests in the trusted runner")
    stages.wrap(trusted.TrustedRunner, "define", "instructor definitions to the runner")
    stages.wrap(pipeline, "_run_in_kernel", "learner/instructor cells in the kernel")
    stages.wrap(kernels.LearnerKernel, "shutdown", "kernel destroy, grant revoke")
    stages.wrap(pipeline, "score_exercise", "scoring")
    stages.wrap(services, "_record_cpu", "CPU quota count (Redis)")
    stages.wrap(services, "submission_record_grade", "save grade (DB, events, LTI hook)")
    stages.wrap(services, "penalty_of", "late penalty (DB reads)")
    stages.wrap(progress, "publish", "progress events (Redis)")
    stages.wrap(queues, "send", "broker sends (task messages)")
    stages.wrap(recovery, "enqueue", "enqueue (send + DB write)")
    stages.wrap(grades, "scores_record_for_submission", "LTI scores sync")
    stages.wrap(grades, "scores_wanted", "LTI: is a column linked")
    stages.wrap(db_base.BaseDatabaseWrapper, "connect", "DB connect")
    stages.wrap(services, "submission_grade_next", "TOTAL: the grading task's service")
    record_cpu = services._record_cpu

    def count_sandbox_cpu(submission: Any, cpu_seconds: float) -> None:
        stages.sandbox_cpu += cpu_seconds
        record_cpu(submission, cpu_seconds)

    services._record_cpu = count_sandbox_cpu


def _enroll(count: int) -> list[Any]:
    from campus.models import User
    from courses.models import Cohort, Enrollment

    users = User.objects.bulk_create(User(email=f"stage{n}@bench.test") for n in range(count))
    Enrollment.objects.bulk_create(
        Enrollment(user=u, cohort=c) for c in Cohort.objects.all() for u in users
    )
    return users


def _grade_runs(
    slug: str, notebook: dict[str, Any], learners: list[Any], stages: Stages
) -> dict[str, Any]:
    """RUNS gradings of `slug`'s reference notebook, each as a worker's task runs it."""
    from courses.grading import services
    from courses.models import Exercise, Submission

    exercise = Exercise.objects.get(slug=slug)
    stages.reset()
    process_cpu, submit_cpu = _own_cpu(), 0.0
    started = time.perf_counter()
    for n in range(RUNS):
        submission_id, cpu = _submit(exercise, learners[n % len(learners)], notebook)
        submit_cpu += cpu
        # The worker keeps its connection from task to task (config.celery).
        target = services.submission_grade_next(submission_id=submission_id, worker="bench")
        assert target == submission_id, (target, submission_id)
    wall = time.perf_counter() - started
    stages.cpu["web: submit (not the worker's)"] = submit_cpu
    stages.wall["web: submit (not the worker's)"] = 0.0
    stages.calls["web: submit (not the worker's)"] = RUNS
    cpu = _own_cpu() - process_cpu - submit_cpu
    graded = Submission.objects.filter(exercise=exercise, status="graded").count()
    return {
        "runs": RUNS,
        "graded": graded,
        "wall_ms_per_grading": round(wall * 1000 / RUNS, 1),
        "worker_process_cpu_ms_per_grading": round(cpu * 1000 / RUNS, 1),
        "sandbox_cpu_ms_per_grading": round(stages.sandbox_cpu * 1000 / RUNS, 1),
        "stages": stages.table(RUNS),
    }


def _submit(exercise: Any, learner: Any, notebook: dict[str, Any]) -> tuple[int, float]:
    """A submit as the web makes it, on a thread of its own with its own connection, closed
    at the end of the request: the submission's id and the thread's CPU time."""
    from django.db import connection

    from courses.grading import services

    out: dict[str, Any] = {}

    def request() -> None:
        cpu = time.thread_time()
        try:
            out["id"] = services.submission_create(
                learner=learner, exercise=exercise, notebook=notebook
            ).pk
        finally:
            connection.close()
            out["cpu"] = time.thread_time() - cpu

    thread = threading.Thread(target=request)
    thread.start()
    thread.join()
    return int(out["id"]), float(out["cpu"])


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _intrinsic(notebook: dict[str, Any]) -> dict[str, float]:
    from sandbox.runtime import runtime_python
    from sandbox.zygote import preload

    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(notebook, file)
        file.flush()
        out = subprocess.run(
            [str(runtime_python()), str(INTRINSIC), file.name, ",".join(preload())],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@contextlib.contextmanager
def _platform() -> Iterator[None]:
    """A fresh database (migrated, demo seeded) and Redis for this process."""
    from config.embedded_redis import start_redis

    var = Path(tempfile.mkdtemp(prefix="ostp-stages-"))
    var.chmod(0o755)
    redis = start_redis(data_dir=var / "redis", persist=False)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(var),
        GATEWAY_SOCKET_DIR=str(var / "gateway"),
        REDIS_URL=redis.url,
        LOG_LEVEL="WARNING",
        SANDBOX_POOL_SIZE="2",
    )
    python, env = sys.executable, dict(os.environ)
    for command in (["migrate", "-v0"], ["seed_demo"]):
        subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True)
    try:
        import django

        django.setup()
        yield
    finally:
        from courses.grading import kernels

        kernels.close_pool()
        redis.stop()


def _exercises() -> dict[str, dict[str, Any]]:
    found = real_exercises()  # creates the trivial exercise too
    return {slug: nb for slug, (_path, nb, _score) in found.items()} | {TRIVIAL: notebooks.small()}


def measure() -> dict[str, Any]:
    with _platform():
        from courses.grading import kernels

        kernels.kernel_pool()
        learners = _enroll(RUNS)
        exercises = _exercises()
        stages = Stages()
        _instrument(stages)
        figures: dict[str, Any] = {"load_average_at_start": list(os.getloadavg())}
        for slug, notebook in exercises.items():
            _grade_runs(slug, notebook, learners[:1], stages)  # warm up: the first draw, caches
        per_exercise = {}
        for slug, notebook in exercises.items():
            per_exercise[slug] = {
                "intrinsic": _intrinsic(notebook),
                "platform": _grade_runs(slug, notebook, learners, stages),
            }
        figures["exercises"] = per_exercise
        figures["load_average_at_end"] = list(os.getloadavg())
    return figures


def main(run: Callable[[], dict[str, Any]] = measure) -> dict[str, Any]:
    results = ROOT / "bench" / "results" / "grading.json"
    merged = json.loads(results.read_text()) if results.exists() else {}
    merged["grading_stages"] = run()
    return merged


if __name__ == "__main__":
    write_results("grading", main())
