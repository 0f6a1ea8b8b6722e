"""Attacks on the limits: processes, memory, disk, time and output. Each is stopped, the
result says which limit stopped it, and the host is unharmed."""

from __future__ import annotations

import errno
import resource
import time
from typing import Any

import pytest

from sandbox import KernelPool, Limits, cgroups, launch, outputs, zygote
from sandbox.outputs import TRUNCATION_MARKER
from tests.sandbox.conftest import ATTACK_MODES
from tests.support.sandbox import StartKernel, report, stdout


@pytest.fixture(params=ATTACK_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Every launcher, the zygote of a course runtime included."""
    return str(request.param)


FORK_BOMB = """
import json, os, time
children, error = [], None
try:
    for _ in range(10_000):
        pid = os.fork()
        if pid == 0:
            try:
                while True:
                    os.fork()  # every child forks again, for ever
            except OSError:
                time.sleep(60)
            finally:
                os._exit(0)
        children.append(pid)
except OSError as e:
    error = e.errno
print(json.dumps({"children": len(children), "error": error}))
"""


def test_it_stops_a_fork_bomb_at_the_process_limit(start: StartKernel) -> None:
    kernel = start(processes=40)

    found = report(kernel, FORK_BOMB)

    assert found["error"] == errno.EAGAIN
    assert found["children"] < 40
    assert kernel.cgroup is not None and len(kernel.cgroup.pids()) <= 40
    # the kernel itself survives and answers
    assert kernel.execute("1 + 1").outputs[0]["data"]["text/plain"] == "2"


def test_it_kills_a_kernel_that_allocates_beyond_its_memory_limit(start: StartKernel) -> None:
    kernel = start(memory_mb=200)

    result = kernel.execute("chunks = []\nwhile True:\n    chunks.append(b'x' * 2**24)")

    assert result.status == "killed"
    assert kernel.stopped_by == "memory"
    assert not kernel.is_alive()
    assert kernel.peak_memory_mib is not None and kernel.peak_memory_mib <= 201


def test_it_refuses_an_allocation_far_beyond_the_limit_and_keeps_the_kernel(
    start: StartKernel,
) -> None:
    kernel = start(memory_mb=200)

    result = kernel.execute("import numpy\nx = numpy.ones(10**11)")

    assert result.status == "error"
    assert result.outputs[-1]["ename"] == "MemoryError"
    assert kernel.is_alive() and kernel.stopped_by is None


FILL_DISK = """
import json, os
r = {}
for where in ["/home/learner", "/tmp", "/dev/shm", "/kernel"]:
    written, error = 0, None
    try:
        for i in range(10_000):
            with open(f"{where}/fill{i}", "wb") as f:
                for _ in range(4):
                    f.write(b"x" * 2**20)
                    written += 2**20
    except OSError as e:
        error = e.errno
    r[where] = [written, error]
    for name in os.listdir(where):
        if name.startswith("fill"):
            os.unlink(f"{where}/{name}")
print(json.dumps(r))
"""


def test_it_stops_filling_the_disk_at_the_tmpfs_size(start: StartKernel) -> None:
    kernel = start(tmpfs_mb=16)

    found = report(kernel, FILL_DISK)

    for where, (written, error) in found.items():
        assert error == errno.ENOSPC, where
        assert written <= 16 * 2**20, where


def test_it_stops_a_single_file_at_the_file_size_limit(start: StartKernel) -> None:
    kernel = start(file_size_mb=2, tmpfs_mb=32)

    found = report(
        kernel,
        "import json, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "try:\n    open('/tmp/big', 'wb').write(b'x' * 2**22); r = 'written'\n"
        "except OSError as e:\n    r = e.errno\nprint(json.dumps(r))",
    )

    assert found == errno.EFBIG


def test_it_interrupts_an_infinite_loop_and_keeps_the_kernel(
    start: StartKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loaded machine may take its time to deliver the interrupt: never kill here.
    monkeypatch.setattr(outputs, "INTERRUPT_GRACE_S", 600)
    kernel = start(cell_timeout_s=1.0)

    result = kernel.execute("while True:\n    pass")

    assert result.status == "timeout"
    assert kernel.stopped_by == "timeout"
    assert any(o.get("ename") == "KeyboardInterrupt" for o in result.outputs)
    assert result.outputs[-1]["evalue"] == "the cell ran longer than 1 s"
    assert kernel.is_alive()


def test_it_kills_a_loop_that_ignores_interrupts(start: StartKernel) -> None:
    kernel = start(cell_timeout_s=1.0)

    result = kernel.execute(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass"
    )

    assert result.status == "timeout"
    assert kernel.stopped_by == "timeout"
    assert not kernel.is_alive()


def test_it_kills_a_kernel_at_its_cpu_seconds_limit(start: StartKernel) -> None:
    kernel = start(cpu_seconds=2, cell_timeout_s=600, total_timeout_s=600)

    result = kernel.execute("while True:\n    pass")

    assert result.status == "killed" and kernel.stopped_by == "cpu"
    assert not kernel.is_alive()


class SteppedClock:
    """The real monotonic clock, plus whatever time a test says has passed."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


def test_it_stops_a_run_at_its_total_time_limit(start: StartKernel) -> None:
    # given: a run that has used all but a second of its 600 s
    kernel = start(cell_timeout_s=600, total_timeout_s=600)
    kernel.clock = clock = SteppedClock()
    first = kernel.execute("import time")
    clock.skip(599)

    # when: its next cell would run for ten minutes
    second = kernel.execute("time.sleep(600)")

    # then: the total limit stops it, not the cell's own
    assert first.status == "ok"
    assert second.status == "timeout" and kernel.stopped_by == "timeout"
    assert second.outputs[-1]["evalue"] == "the notebook ran longer than 600 s in total"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_it_caps_an_output_flood_with_a_marker_and_bounded_worker_memory(
    start: StartKernel,
) -> None:
    kernel = start(output_bytes=100_000, cell_timeout_s=20)
    before = rss_mib()

    result = kernel.execute("i = 0\nwhile True:\n    i += 1\n    print(i)")
    after = kernel.execute("print('never')")

    assert result.status == "killed" and kernel.stopped_by == "output"
    text = stdout(result)
    assert text.startswith("1\n2\n3\n")  # the head, however fast the kernel printed
    assert text.endswith(TRUNCATION_MARKER.format(limit=100_000))
    assert len(text.encode()) <= 100_000 + 200
    assert after.status == "not_run"
    assert rss_mib() - before < 50


@pytest.mark.parametrize("size", [300_000, 50_000_000])
def test_it_shows_the_head_of_a_single_print_over_the_cap(start: StartKernel, size: int) -> None:
    # One write, flushed as one piece of text: the head shows, cut exactly at the cap.
    kernel = start(output_bytes=100_000, cell_timeout_s=20)
    before = rss_mib()

    result = kernel.execute(f"print('y' * {size})")

    assert result.status == "killed" and kernel.stopped_by == "output"
    assert stdout(result) == "y" * 100_000 + TRUNCATION_MARKER.format(limit=100_000)
    assert rss_mib() - before < 50


def test_it_survives_floods_faster_than_the_kernel_can_send(start: StartKernel) -> None:
    # Big lines pile up in the kernel's own buffers: its cgroup or our cap stops it.
    kernel = start(output_bytes=100_000, cell_timeout_s=20)
    before = rss_mib()

    lines = kernel.execute("while True:\n    print('x' * 10_000)")

    assert lines.status == "killed" and kernel.stopped_by in ("output", "memory")
    assert len(stdout(lines).encode()) <= 100_000 + 200
    assert rss_mib() - before < 50


RAW_GIANT_MESSAGE = """
kernel = get_ipython().kernel
kernel.session.send(kernel.iopub_socket, "stream", {"name": "stdout", "text": "y" * 50_000_000},
                    parent=kernel.get_parent())
import time
time.sleep(600)
"""


def test_it_drops_a_giant_message_sent_past_stdout_without_holding_it(
    start: StartKernel,
) -> None:
    # The receive-size limit bounds the worker's memory against code that sends one itself.
    kernel = start(output_bytes=100_000, cell_timeout_s=600, total_timeout_s=600)
    before = rss_mib()

    result = kernel.execute(RAW_GIANT_MESSAGE)

    assert result.status == "killed" and kernel.stopped_by == "output"
    assert stdout(result) == TRUNCATION_MARKER.format(limit=100_000)
    assert rss_mib() - before < 40


def test_the_pool_keeps_serving_after_attacks(launcher: dict[str, Any]) -> None:
    with KernelPool(size=1, limits=Limits(processes=40, memory_mb=200), **launcher) as pool:
        with pool.kernel() as bombed:
            bombed.execute(FORK_BOMB)
        with pool.kernel() as hog:
            hog.execute("chunks = []\nwhile True:\n    chunks.append(b'x' * 2**24)")
            assert hog.stopped_by == "memory"
        with pool.kernel() as fine:
            assert fine.execute("print(6 * 7)").outputs[0]["text"] == "42\n"


RUNAWAY = """
import os
for _ in range(8):
    if os.fork() == 0:
        while True:
            pass
print("spinning", flush=True)
"""
MY_SHARE = """
import json, time

start = time.process_time()
while time.process_time() - start < 0.5:
    pass
print(json.dumps({"done": True}))
"""


def test_a_runaway_kernel_cannot_starve_another_of_the_cpu(start: StartKernel) -> None:
    # given a kernel spinning eight processes, and a second kernel of the same weight
    hog, other = start(cpu_weight=100), start(cpu_weight=100)
    assert hog.cgroup is not None and hog.cgroup.cpu_weight() == 100
    hog.execute(RUNAWAY)
    before = hog.cpu_seconds()
    # when the other kernel needs half a CPU-second
    report(other, MY_SHARE, timeout=300)
    # then it got about as much CPU as the hog meanwhile: the hog's nine processes count as
    # one cgroup, not nine equals (threads alone would leave the other about 1/9 of it)
    assert before is not None
    hog_used = (hog.cpu_seconds() or 0) - before
    assert hog_used < 1.5, f"the hog used {hog_used:.1f} s while the other used 0.5 s"


def test_a_killed_zygote_kernel_is_waited_for_then_its_cgroup_is_checked(monkeypatch) -> None:
    # given a zygote kernel that started a process of its own
    kernel = launch.start_kernel(limits=Limits(), mode="zygote")
    started = kernel.execute("import subprocess; child = subprocess.Popen(['sleep', '600'])")
    assert started.status == "ok", started.outputs
    group = kernel.cgroup
    assert group is not None and len(group.pids()) >= 2
    steps: list[str] = []
    readable, kill_all = zygote._readable, cgroups.Cgroup.kill_all

    def waited(fd: int, timeout_s: float) -> bool:
        if timeout_s > 0:
            steps.append("pid 1 waited for")
        return readable(fd, timeout_s)

    def killed(self: cgroups.Cgroup, **kwargs: Any) -> None:
        steps.append("cgroup looked at")
        kill_all(self, **kwargs)

    monkeypatch.setattr(zygote, "_readable", waited)
    monkeypatch.setattr(cgroups.Cgroup, "kill_all", killed)
    # when it is destroyed
    kernel.shutdown(wait=True)
    # then its pid 1 was waited for (which outlives every process of its namespace) before
    # the cgroup was looked at, and nothing is left in it
    assert steps[:2] == ["pid 1 waited for", "cgroup looked at"], steps
    assert group.pids() == []
