"""Fixtures for the sandbox tests: real kernels, in every isolation mode.

Every kernel a test starts is destroyed at the end of the test; a final check makes sure
no process, cgroup or mount was left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import launch, slots
from sandbox.kernel import Kernel, drain_destroyed
from sandbox.limits import Limits
from tests.support.sandbox import StartKernel

MODES = os.environ.get("SANDBOX_TEST_MODES", "bwrap,zygote").split(",")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def start(mode: str) -> Iterator[StartKernel]:
    """Start kernels in the test's mode; all of them are destroyed after the test."""
    started: list[Kernel] = []

    def start_kernel(**limits: Any) -> Kernel:
        kernel = launch.start_kernel(limits=Limits(**limits), mode=mode)
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
