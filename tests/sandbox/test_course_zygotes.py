"""A course runtime's kernels come from that runtime's own zygote: started on first use,
stopped once idle (never under a live kernel), at most SANDBOX_COURSE_ZYGOTES of them;
and the zygote never preloads a module whose import asks for one the course replaces."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox import isolation, runtime, zygote
from sandbox.course_zygotes import CourseZygotes, Entry
from sandbox.limits import Limits
from tests.support.sandbox import report, stdout

SANDBOX_DIR = Path(zygote.__file__).parent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeZygote:
    """Stands for a started zygote in the tests of the policy (which one runs, which stops)."""

    def __init__(self) -> None:
        self.forks = 0
        self.gateway_dir = isolation.gateway_dir()
        self.children = 0
        self.stopped = False

    def is_alive(self) -> bool:
        return not self.stopped

    def has_children(self) -> bool:
        return self.children > 0

    def stop(self) -> None:
        self.stopped = True


class FakeHold:
    def __init__(self) -> None:
        self.released = False

    def release(self) -> None:
        self.released = True


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def zygotes(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> CourseZygotes:
    monkeypatch.setenv("SANDBOX_COURSE_ZYGOTES", "2")
    monkeypatch.setenv("SANDBOX_COURSE_ZYGOTE_IDLE_S", "600")
    return CourseZygotes(
        clock=clock,
        start=lambda path, now: Entry(zygote=FakeZygote(), hold=FakeHold(), last_used=now),
    )


def test_one_zygote_serves_every_kernel_of_a_runtime(zygotes: CourseZygotes) -> None:
    first = zygotes.zygote_for(Path("/r/a"))
    assert zygotes.zygote_for(Path("/r/a")) is first
    assert zygotes.zygote_for(Path("/r/b")) is not first


def test_one_more_than_the_bound_retires_the_least_recently_used(
    zygotes: CourseZygotes, clock: Clock
) -> None:
    # given: a used after b, and b's zygote still forking a kernel
    a, b = zygotes.zygote_for(Path("/r/a")), zygotes.zygote_for(Path("/r/b"))
    clock.now += 1
    zygotes.zygote_for(Path("/r/a"))
    b.children = 1

    # when
    zygotes.zygote_for(Path("/r/c"))

    # then: b is retired, kept while its kernel lives, stopped after
    assert not a.stopped and not b.stopped
    assert zygotes.running() == [Path("/r/b"), Path("/r/a"), Path("/r/c")]
    b.children = 0
    zygotes.sweep()
    assert b.stopped and zygotes.running() == [Path("/r/a"), Path("/r/c")]
    assert zygotes.retired == []


def test_an_idle_zygote_is_stopped_and_a_later_kernel_starts_a_new_one(
    zygotes: CourseZygotes, clock: Clock
) -> None:
    first = zygotes.zygote_for(Path("/r/a"))
    clock.now += 599
    zygotes.sweep()
    assert not first.stopped

    clock.now += 2
    zygotes.sweep()

    assert first.stopped and zygotes.running() == []
    assert zygotes.zygote_for(Path("/r/a")) is not first


def test_a_retired_zygote_with_live_kernels_serves_its_runtime_again(
    zygotes: CourseZygotes, clock: Clock
) -> None:
    first = zygotes.zygote_for(Path("/r/a"))
    first.children = 1
    clock.now += 601
    zygotes.sweep()
    assert not first.stopped and zygotes.retired

    assert zygotes.zygote_for(Path("/r/a")) is first
    assert zygotes.retired == []


def test_a_real_course_zygote_forks_kernels_of_the_course_and_stops_once_idle(
    course_runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("SANDBOX_COURSE_ZYGOTE_IDLE_S", "600")
    clock = Clock()
    zygotes = CourseZygotes(clock=clock)
    source = zygotes.zygote_for(course_runtime)
    kernels = [
        zygote.start_kernel(limits=Limits(cell_timeout_s=120), source=source) for _ in range(2)
    ]
    try:
        for kernel in kernels:
            kernel.wait_ready(timeout=120)
            result = kernel.execute("import ost_hello, numpy, sys\nprint(sys.ost_boot_uid)")
            assert stdout(result) == f"{kernel.uid}\n", result.outputs
        # The course's packages after the standard library, before the kernel runtime's.
        found = report(kernels[0], "import json, sys\nprint(json.dumps(sys.path))")
        positions = [
            found.index(str(folder))
            for folder in (
                Path("/usr/lib", runtime.BASE_PYTHON.name),  # its standard library
                runtime.site_packages(course_runtime),
                runtime.site_packages(runtime.runtime_path()),
            )
        ]
        assert positions == sorted(positions), found
        assert source.has_children() and source.forks == 2

        # when: idle past the period, a kernel still alive
        clock.now += 601
        kernels.pop().shutdown(wait=True)
        zygotes.sweep()

        # then: kept for the live kernel, stopped once it is gone
        assert source.is_alive()
    finally:
        for kernel in kernels:
            kernel.shutdown(wait=True)
    zygotes.sweep()
    assert not source.is_alive() and zygotes.running() == []


PRELOAD = """
import json, sys
sys.path[:0] = [{modules!r}, {sandbox!r}]
import zygote_preload
zygote_preload.import_clean(["plain", "uses_course", "after"], refused=["course_mod"])
print(json.dumps(sorted(set(sys.modules) & {{"plain", "uses_course", "after", "course_mod"}})))
"""


def test_the_zygote_preloads_nothing_that_asks_for_a_module_the_course_replaces(
    tmp_path: Path,
) -> None:
    # course_mod here is the kernel runtime's copy: a kernel of the course must get its own.
    (tmp_path / "plain.py").write_text("X = 1\n")
    (tmp_path / "course_mod.py").write_text("VERSION = 'kernel runtime'\n")
    (tmp_path / "uses_course.py").write_text("import plain\nimport course_mod\n")
    (tmp_path / "after.py").write_text("import plain\n")
    code = PRELOAD.format(modules=str(tmp_path), sandbox=str(SANDBOX_DIR))

    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )

    assert json.loads(completed.stdout) == ["after", "plain"]
