"""Fixtures for the sandbox tests: real kernels, in every isolation mode.

Every kernel a test starts is destroyed at the end of the test; a final check makes sure
no process, cgroup or mount was left behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox import launch, slots
from sandbox.kernel import Kernel
from sandbox.limits import CellResult, Limits

MODES = os.environ.get("SANDBOX_TEST_MODES", "bwrap,zygote").split(",")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


StartKernel = Callable[..., Kernel]


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
        kernel.shutdown()


@pytest.fixture
def kernel(start: StartKernel) -> Kernel:
    return start()


def stdout(result: CellResult) -> str:
    return "".join(o["text"] for o in result.outputs if o["output_type"] == "stream")


def report(kernel: Kernel, code: str, **kwargs: Any) -> Any:
    """Run code that prints one JSON document as its last line; return it decoded."""
    result = kernel.execute(code, **kwargs)
    assert result.status == "ok", result.outputs
    return json.loads(stdout(result).strip().splitlines()[-1])


@pytest.fixture(autouse=True, scope="session")
def nothing_left_behind() -> Iterator[None]:
    yield
    # Other workers on this host may hold slot uids: only free uids must have nothing left.
    assert not slots.clean_orphans(), "a process, cgroup or directory was left behind"
