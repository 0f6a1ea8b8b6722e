"""Fixtures for the sandbox tests: real kernels, in every isolation mode.

Every kernel a test starts is destroyed at the end of the test; a final check makes sure
no process, cgroup or mount was left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import build_environment, launch, slots
from sandbox.kernel import Kernel, drain_destroyed
from sandbox.limits import Limits
from tests.support.sandbox import StartKernel

MODES = os.environ.get("SANDBOX_TEST_MODES", "bwrap,zygote").split(",")
# The zygote of a course runtime (sandbox.course_zygotes) and the zygote of grading kernels
# (sandbox/lean_kernel.py's loop): the attack tests run there too.
COURSE_ZYGOTE = "course-zygote"
GRADING_ZYGOTE = "grading-zygote"
ATTACK_MODES = [*MODES, *([COURSE_ZYGOTE, GRADING_ZYGOTE] if "zygote" in MODES else [])]
COURSE_PINS = ["ost-hello==1.0"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def course_runtime(package_index: str, course_runtimes: Path) -> Path:
    """A course runtime with one tiny package (tests.support.package_index), built once."""
    return build_environment(COURSE_PINS, index_url=package_index)


@pytest.fixture
def launcher(request: pytest.FixtureRequest, mode: str) -> dict[str, Any]:
    """How the test's mode starts a kernel (sandbox.launch.start_kernel's arguments)."""
    if mode == COURSE_ZYGOTE:
        return {"mode": "zygote", "runtime_dir": request.getfixturevalue("course_runtime")}
    if mode == GRADING_ZYGOTE:
        return {"mode": "zygote", "grading": True}
    return {"mode": mode}


@pytest.fixture
def start(launcher: dict[str, Any]) -> Iterator[StartKernel]:
    """Start kernels in the test's mode; all of them are destroyed after the test."""
    started: list[Kernel] = []

    def start_kernel(**limits: Any) -> Kernel:
        kernel = launch.start_kernel(limits=Limits(**limits), **launcher)
        started.append(kernel)
        return kernel

    yield start_kernel
    for kernel in started:
        kernel.shutdown(wait=True)
        assert not kernel.host_dir.exists(), "a kernel's directory was left behind"
        assert not kernel.process.is_alive()


@pytest.fixture
def kernel(start: StartKernel) -> Kernel:
    return start()


@pytest.fixture(autouse=True, scope="session")
def nothing_left_behind() -> Iterator[None]:
    yield
    drain_destroyed()
    # Other workers on this host may use (and, killed, leave behind) slot uids: judge ours.
    ours = slots.USED_HERE & set(slots.clean_orphans())
    assert not ours, f"a process, cgroup or directory was left behind for uids {ours}"
