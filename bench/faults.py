"""Faults during a burst: the platform as `make run` starts it (supervised), 300 submissions
sent by 10 learners at once, and a fault injected a third of the way through.

For each fault: `lost` (accepted, never terminal), `duplicated` (graded more than once),
`wrong_scores`, `recovery_s` (from the end of the fault until every accepted submission is
terminal; `recovery_s_over_baseline` subtracts the same run's no-fault drain) and
`submit_5xx` (refusals must be 503 with a message, never other 5xx; `submit_503` counts
those). The same burst with no fault is the baseline. Writes bench/results/faults.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import notebooks
from bench.stack import ROOT, Browser, Stack, write_results
from config.embedded_redis import free_port

BURST = int(os.environ.get("BENCH_FAULTS_BURST", "300"))
SENDERS = 10
PASSWORD = "bench-password-1"
BOUND_S = 300.0
PATH = "/courses/bench/bench/exercises/small/submit"


def _start(var: Path) -> tuple[subprocess.Popen[bytes], Stack]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(var),
        GATEWAY_SOCKET_DIR=str(var / "gateway"),
        HTTPS="0",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)  # the launcher's own, supervised Redis
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "config.launch", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    stack = Stack(url=f"http://127.0.0.1:{port}", port=port, env=env)
    _wait(lambda: _healthy(stack), 180, "the platform did not become healthy")
    return launcher, stack


def _healthy(stack: Stack) -> bool:
    try:
        return bool(Browser(stack.url).get_json("/healthz").get("ok"))
    except (OSError, ValueError):
        return False


def _services(var: Path) -> dict[str, Any]:
    return json.loads((var / "services.json").read_text())


def _wait(condition: Callable[[], bool], timeout_s: float, failure: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.2)


def _setup() -> None:
    from allauth.account.models import EmailAddress

    from campus.models import Organization, User
    from courses.exercises.services import exercise_create
    from courses.models import Cohort, Course, Enrollment, Module

    org = Organization.objects.create(name="Bench University", slug="bench", country="FR")
    course = Course.objects.create(organization=org, slug="bench", title="Bench", published=True)
    module = Module.objects.create(course=course, title="Bench", position=1)
    cohort = Cohort.objects.create(course=course, name="Bench")
    for n in range(SENDERS):
        learner = User.objects.create_user(f"learner{n}@bench.test", PASSWORD)
        EmailAddress.objects.create(user=learner, email=learner.email, verified=True, primary=True)
        Enrollment.objects.create(user=learner, cohort=cohort)
    exercise_create(module=module, title="small", slug="small", notebook=notebooks.small())


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _kill_pool_children(var: Path) -> float:
    for child in _children(_services(var)["worker"]["pid"]):
        os.kill(child, signal.SIGKILL)
    return 0.0


def _kill_group(name: str) -> Callable[[Path], float]:
    def fault(var: Path) -> float:
        os.killpg(_services(var)[name]["pid"], signal.SIGKILL)
        return 0.0

    return fault


def _stop_redis(var: Path) -> float:
    pid = _services(var)["redis"]["pid"]
    os.kill(pid, signal.SIGSTOP)
    time.sleep(10)
    os.kill(pid, signal.SIGCONT)
    return 10.0


FAULTS: dict[str, Callable[[Path], float] | None] = {
    "none": None,
    "pool_child_killed": _kill_pool_children,
    "worker_killed": _kill_group("worker"),
    "gateway_killed": _kill_group("gateway"),
    "redis_stopped_10s": _stop_redis,
}


def _burst(
    stack: Stack, var: Path, browsers: list[Browser], fault: Callable[[Path], float] | None
) -> dict[str, Any]:
    from courses.models import GradeRecord, Submission

    before = set(Submission.objects.values_list("pk", flat=True))
    accepted: list[int] = []
    codes: list[int] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        browser = browsers[n]
        for _ in range(BURST // SENDERS):
            try:
                submitted = browser.post_json(PATH, notebooks.small())
                with lock:
                    accepted.append(submitted["id"])
                    codes.append(202)
            except urllib.error.HTTPError as exc:
                with lock:
                    codes.append(exc.code)

    senders = [threading.Thread(target=send, args=(n,)) for n in range(SENDERS)]
    for thread in senders:
        thread.start()
    _wait(lambda: len(codes) >= BURST // 3, BOUND_S, "the burst did not start")
    fault_ended = time.monotonic()
    if fault is not None:
        fault(var)
        fault_ended = time.monotonic()
    for thread in senders:
        thread.join()

    def all_terminal() -> bool:
        return not Submission.objects.filter(
            pk__in=accepted, status__in=("queued", "running")
        ).exists()

    with contextlib.suppress(RuntimeError):  # what is still unfinished then counts as lost
        _wait(all_terminal, BOUND_S, "")
    recovery_s = time.monotonic() - fault_ended
    mine = Submission.objects.filter(pk__in=accepted)
    graded = {s.pk: s for s in mine}
    records = GradeRecord.objects.filter(submission_id__in=accepted).values_list(
        "submission_id", flat=True
    )
    counts: dict[int, int] = {}
    for submission_id in records:
        counts[submission_id] = counts.get(submission_id, 0) + 1
    new = set(Submission.objects.values_list("pk", flat=True)) - before
    return {
        "accepted": len(accepted),
        "lost": sum(1 for s in graded.values() if s.status in ("queued", "running")),
        # made but never answered with 202 (a request cut by the fault): still graded?
        "unanswered_but_made": len(new - set(accepted)),
        "duplicated": sum(1 for c in counts.values() if c > 1),
        "wrong_scores": sum(
            1 for s in graded.values() if s.status == "graded" and str(s.score) != "2.00"
        ),
        "not_graded": sum(1 for s in graded.values() if s.status != "graded"),
        "recovery_s": round(recovery_s, 1),
        "submit_5xx": sum(1 for c in codes if c >= 500 and c != 503),
        "submit_503": sum(1 for c in codes if c == 503),
    }


def main() -> dict[str, Any]:
    var = Path(tempfile.mkdtemp(prefix="ostp-bench-faults-"))
    var.chmod(0o755)
    launcher, stack = _start(var)
    try:
        stack.django()
        _setup()
        browsers = [Browser(stack.url) for _ in range(SENDERS)]
        for n, browser in enumerate(browsers):  # once: sign-ins are rate-limited
            browser.login(f"learner{n}@bench.test", PASSWORD)
        figures: dict[str, Any] = {"burst": BURST, "load_at_start": os.getloadavg()[0]}
        for name, fault in FAULTS.items():
            _wait(lambda: _healthy(stack), 120, f"not healthy before {name}")
            figures[name] = _burst(stack, var, browsers, fault)
            print(name, figures[name], flush=True)
        # The drain of the burst itself is in every recovery_s: what the fault added is the
        # difference with the same run's no-fault burst.
        for name in FAULTS:
            if name != "none":
                extra = figures[name]["recovery_s"] - figures["none"]["recovery_s"]
                figures[name]["recovery_s_over_baseline"] = round(extra, 1)
        figures["load_at_end"] = os.getloadavg()[0]
        return figures
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)


if __name__ == "__main__":
    write_results("faults", main())
