"""`make run`'s supervision, on real processes with an injected clock: a service that dies
is started again after its backoff while the others keep running; one that keeps dying
stops the platform with a message that names it."""

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from config.launch import CRASH_WINDOW_S, RESTART_LIMIT, CrashLoop, Launcher, Service

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
