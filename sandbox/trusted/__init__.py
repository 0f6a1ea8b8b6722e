"""Trusted grading: test code runs in a fresh process that sees the learner's values only
as plain data or as handles whose comparisons are never delegated.

Public API::

    with TrustedRunner(kernel, cell_timeout_s=30) as runner:
        results = runner.run([CheckCell(key="test_1", code="assert f(2) == 4")])

    run_tests(kernel, cells, cell_timeout_s=30) -> list[CheckResult]
    warm_up()  # when a worker process starts: the fork server imports numpy and pandas
    numpy1_reprs(text) -> str  # np.float64(1.5) and np.True_ as numpy 1 showed them
"""

from .child import numpy1_reprs
from .runner import (
    CheckCell,
    CheckResult,
    KernelLike,
    TrustedRunner,
    TrustedRunnerError,
    run_tests,
    warm_up,
)

__all__ = [
    "CheckCell",
    "CheckResult",
    "KernelLike",
    "TrustedRunner",
    "TrustedRunnerError",
    "numpy1_reprs",
    "run_tests",
    "warm_up",
]
