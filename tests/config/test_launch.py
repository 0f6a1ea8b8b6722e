"""`make run`'s supervision, on real processes with an injected clock: a service that dies
is started again after its backoff while the others keep running; one that keeps dying
stops the platform with a message that names it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config import capacity
from config.launch import (
    CRASH_WINDOW_S,
    RESTART_LIMIT,
    CrashLoop,
    Launcher,
    Service,
    service_specs,
    web_argv,
)

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def launcher(tmp_path: Path):
    launcher = Launcher(env=dict(os.environ), status_file=tmp_path / "services.json", clock=Clock())
    yield launcher
    launcher.stop_all()


def _kill(service: Service) -> None:
    assert service.process is not None
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait()


def test_a_dead_service_is_started_again_after_its_backoff_and_the_others_keep_running(
    launcher: Launcher,
) -> None:
    gateway, web = Service("gateway", SLEEPER), Service("web", SLEEPER)
    launcher.start(gateway)
    launcher.start(web)
    first_pid, web_pid = gateway.process.pid, web.process.pid
    _kill(gateway)
    launcher.supervise()
    status = json.loads(launcher.status_file.read_text())
    assert status["gateway"]["state"] == "restarting"
    assert status["web"] == {"state": "running", "pid": web_pid, "restarts": 0}
    launcher.clock.now += 0.5  # the first backoff
    launcher.supervise()
    assert gateway.process.poll() is None and gateway.process.pid != first_pid
    assert web.process.pid == web_pid and web.process.poll() is None
    status = json.loads(launcher.status_file.read_text())
    assert status["gateway"]["state"] == "running" and status["gateway"]["restarts"] == 1


def test_the_backoff_doubles_and_a_crash_loop_stops_with_a_message(launcher: Launcher) -> None:
    worker = Service("worker", SLEEPER)
    launcher.start(worker)
    delays = []
    with pytest.raises(CrashLoop) as crash:
        for _ in range(RESTART_LIMIT):
            _kill(worker)
            launcher.supervise()
            delays.append(worker.restart_at - launcher.clock.now)
            launcher.clock.now = worker.restart_at
            launcher.supervise()
    assert delays == [0.5, 1.0, 2.0, 4.0]
    assert "worker service exited 5 times" in str(crash.value)


def test_deaths_far_apart_are_not_a_crash_loop(launcher: Launcher) -> None:
    beat = Service("beat", SLEEPER)
    launcher.start(beat)
    for _ in range(RESTART_LIMIT * 2):
        _kill(beat)
        launcher.supervise()
        launcher.clock.now += CRASH_WINDOW_S
        launcher.supervise()
    assert beat.process.poll() is None


def test_stopping_leaves_no_process(launcher: Launcher) -> None:
    services = [Service(name, SLEEPER) for name in ("a", "b")]
    for service in services:
        launcher.start(service)
    launcher.stop_all()
    assert all(s.process.poll() is not None for s in services)
    assert not launcher.status_file.exists()


# A worker that, told to stop, waits up to 2 s for the process it was given to end (as
# Redis would under a worker still using it), then says whether it was still running.
STOPS_AFTER_CHECKING = """
import signal, sys, time
def stop(*_):
    for _ in range(40):
        state = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()[0]
        if state in "ZX":
            break
        time.sleep(0.05)
    open(sys.argv[2], "w").write("gone" if state in "ZX" else "running")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
time.sleep(600)
"""


def test_redis_stops_after_the_services_that_use_it(launcher: Launcher, tmp_path: Path) -> None:
    redis = Service("redis", SLEEPER)
    launcher.start(redis)
    seen = tmp_path / "seen"
    worker = Service(
        "worker", [sys.executable, "-c", STOPS_AFTER_CHECKING, str(redis.process.pid), str(seen)]
    )
    launcher.start(worker)
    _wait_for(lambda: "stop" in _signal_handlers(worker.process.pid))

    launcher.stop_all()

    assert seen.read_text() == "running"  # Redis was there while the worker stopped
    assert redis.process.poll() is not None and worker.process.poll() is not None


# A service with a child that notes any SIGTERM it gets; told to stop, the service itself
# leaves at once, without stopping its child (as a parent that takes no care would).
LEAVES_A_CHILD = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
open(sys.argv[3], "w").write(str(child.pid))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
time.sleep(600)
"""
NOTES_SIGTERM = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: open(sys.argv[1], "w").write("signalled"))
time.sleep(600)
"""


def test_the_launcher_signals_only_a_services_own_process_and_kills_what_it_leaves(
    launcher: Launcher, tmp_path: Path
) -> None:
    noted, child_pid = tmp_path / "noted", tmp_path / "child"
    service = Service(
        "gateway",
        [sys.executable, "-c", LEAVES_A_CHILD, NOTES_SIGTERM, str(noted), str(child_pid)],
    )
    launcher.start(service)
    _wait_for(lambda: child_pid.exists() and child_pid.read_text())
    child = int(child_pid.read_text())
    _wait_for(
        lambda: (
            "stop" in _signal_handlers(child) and "stop" in _signal_handlers(service.process.pid)
        )
    )

    launcher.stop_all()

    # the child was not told to stop by the launcher (its parent stops it, or does not),
    # and nothing of the service is left
    assert not noted.exists()
    assert service.process.poll() is not None
    _wait_for(lambda: not Path(f"/proc/{child}").exists() or _state(child) in "ZX")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def _signal_handlers(pid: int) -> str:
    """'stop' once the process catches SIGTERM (its handler is installed)."""
    caught = int(
        next(
            line.split()[1]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("SigCgt:")
        ),
        16,
    )
    return "stop" if caught & (1 << (signal.SIGTERM - 1)) else ""


def _wait_for(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s  # a failure bound only
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.02)


def test_the_platform_is_a_list_of_named_services_with_the_web_on_several_workers() -> None:
    specs = service_specs(
        "python", host="127.0.0.1", port=8000, var_dir=Path("var"), web_workers=3, concurrency=2
    )
    names = [spec.name for spec in specs]
    assert names == ["worker", "interactive", "beat", "gateway", "web"]
    web = specs[-1].argv
    assert web[web.index("--workers") + 1] == "3"
    worker = specs[0].argv
    assert worker[worker.index("--concurrency") + 1] == "2"


def test_each_process_is_started_with_its_database_role(tmp_path) -> None:
    # given: make run's services; each one's role sizes its connection pool (config.capacity)
    specs = service_specs(
        "python", host="127.0.0.1", port=8000, var_dir=Path("var"), web_workers=2, concurrency=2
    )
    roles = {spec.name: spec.env["DATABASE_ROLE"] for spec in specs}
    assert roles == {
        "worker": "grading",
        "interactive": "interactive",
        "beat": "beat",
        "gateway": "gateway",
        "web": "web",
    }
    # when the launcher starts a service
    seen = tmp_path / "role"
    probe = Service(
        "probe",
        [
            sys.executable,
            "-c",
            f"import os; open({str(seen)!r}, 'w').write(os.environ['DATABASE_ROLE'])",
        ],
        env={"DATABASE_ROLE": "web"},
    )
    launcher = Launcher(env=dict(os.environ))
    launcher.start(probe)
    assert probe.process is not None and probe.process.wait(timeout=60) == 0
    # then the process has its own role on top of the launcher's environment
    assert seen.read_text() == "web"


def test_several_interactive_workers_each_have_their_own_name_and_queue() -> None:
    specs = service_specs(
        "python", host="127.0.0.1", port=8000, var_dir=Path("var"), web_workers=2,
        concurrency=2, interactive_workers=3,
    )  # fmt: skip
    interactive = [spec for spec in specs if spec.name.startswith("interactive")]
    assert [spec.name for spec in interactive] == ["interactive", "interactive-2", "interactive-3"]
    nodes = [spec.argv[spec.argv.index("-n") + 1] for spec in interactive]
    assert nodes == ["interactive@%h", "interactive-2@%h", "interactive-3@%h"]
    assert all(spec.argv[spec.argv.index("-P") + 1] == "threads" for spec in interactive)


def test_interactive_workers_follow_the_cores_as_memory_allows(monkeypatch, tmp_path) -> None:
    meminfo = tmp_path / "meminfo"
    monkeypatch.delenv("INTERACTIVE_WORKERS", raising=False)
    monkeypatch.setattr(capacity, "cores", lambda: 2)
    monkeypatch.setattr(capacity, "memory_gib", lambda: 24.0)
    assert capacity.interactive_workers() == 2  # a 2-core, 24 GiB host
    monkeypatch.setattr(capacity, "memory_gib", lambda: 6.0)
    assert capacity.interactive_workers() == 1  # room for one zygote and its sessions
    monkeypatch.setattr(capacity, "memory_gib", lambda: 1.0)
    assert capacity.interactive_workers() == 1  # never none
    monkeypatch.setenv("INTERACTIVE_WORKERS", "4")
    assert capacity.interactive_workers() == 4
    monkeypatch.undo()
    meminfo.write_text("MemTotal:       25165824 kB\nMemFree: 1 kB\n")
    assert capacity.memory_gib(meminfo) == 24.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _web_workers(pid: int) -> list[int]:
    """Children of uvicorn's supervisor that serve (not multiprocessing's resource tracker)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    children = [int(child) for child in text.split()]
    return [
        child
        for child in children
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_the_web_server_answers_from_as_many_processes_as_configured(tmp_path) -> None:
    # given: the web command of `make run` with two workers
    port = _free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings_test", VAR_DIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "platform")])
    argv = web_argv(sys.executable, host="127.0.0.1", port=port, workers=2)
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        # when: it answers
        deadline = time.monotonic() + 120  # a failure guard only: we wait for the answer
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/static/css/app.css", timeout=5
                ):
                    break
            except OSError:
                assert process.poll() is None, "the web server exited"
                assert time.monotonic() < deadline, "the web server never answered"
                time.sleep(0.2)
        # then: two worker processes serve it, under one supervisor
        assert len(_web_workers(process.pid)) == 2
    finally:
        process.terminate()
        process.wait(timeout=30)
