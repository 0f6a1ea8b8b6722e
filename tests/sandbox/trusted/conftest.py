"""Real kernels for the trusted runner's tests.

Every test runs on a plain local ipykernel (``InsecureLocalKernel``, the shape of
``sandbox.Kernel``; the next one starts while a test runs) and, where the sandbox package
and its runtime are installed, on real sandboxed kernels too: one started as
``TRUSTED_TEST_SANDBOX_MODE`` says (bwrap by default), and one forked from the zygote of
grading kernels, as the worker grades (its kernels start with the helper defined, and are
sent only the expression that starts it).
"""

from __future__ import annotations

import importlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.trusted import CheckCell, CheckResult, run_tests
from tests.support.insecure_kernel import InsecureLocalKernel


class KernelSupply:
    def __init__(self) -> None:
        self._next: InsecureLocalKernel | None = None
        self._thread: threading.Thread | None = None
        self._prepare()

    def _prepare(self) -> None:
        def start() -> None:
            self._next = InsecureLocalKernel()

        self._thread = threading.Thread(target=start)
        self._thread.start()

    def take(self) -> InsecureLocalKernel:
        assert self._thread is not None
        self._thread.join()
        kernel, self._next = self._next, None
        assert kernel is not None
        self._prepare()
        return kernel

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._next is not None:
            self._next.shutdown()


@pytest.fixture(scope="session")
def kernel_supply() -> Iterator[KernelSupply]:
    supply = KernelSupply()
    yield supply
    supply.close()


def _sandbox_available() -> bool:
    try:
        runtime: Any = importlib.import_module("sandbox.runtime")
    except ImportError:
        return False
    return shutil.which("bwrap") is not None and runtime.runtime_python().exists()


KERNEL_KINDS = ["insecure-local"] + (["sandbox", "grading"] if _sandbox_available() else [])


@pytest.fixture(params=KERNEL_KINDS)
def kernel(request: pytest.FixtureRequest, kernel_supply: KernelSupply) -> Iterator[Any]:
    k: Any
    if request.param == "sandbox":
        sandbox: Any = importlib.import_module("sandbox")
        mode = os.environ.get("TRUSTED_TEST_SANDBOX_MODE", "bwrap")
        k = sandbox.start_kernel(limits=sandbox.Limits(cell_timeout_s=30), mode=mode)
    elif request.param == "grading":
        sandbox = importlib.import_module("sandbox")
        k = sandbox.start_kernel(
            limits=sandbox.Limits(cell_timeout_s=30), mode="zygote", grading=True
        )
    else:
        k = kernel_supply.take()
    yield k
    k.shutdown()


RunTrusted = Callable[..., list[CheckResult]]


@pytest.fixture
def run_trusted(kernel: Any) -> RunTrusted:
    """What the grader does: the learner's cell in the kernel, then the tests, trusted."""

    def run(answer: str, *tests: str, cell_timeout_s: float = 10.0) -> list[CheckResult]:
        kernel.execute(answer, timeout=60)  # the tests' own limit is what is under test
        cells = [CheckCell(key=f"test-{i}", code=code) for i, code in enumerate(tests)]
        return run_tests(kernel, cells, cell_timeout_s=cell_timeout_s)

    return run
