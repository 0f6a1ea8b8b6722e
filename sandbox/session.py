"""An interactive kernel session, for the browser notebook: held by one worker."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox import launch
from sandbox.kernel import Kernel
from sandbox.limits import CellResult, Limits, SandboxInfraError
from sandbox.pool import KernelPool


class Session:
    """start, execute (outputs streamed to `on_output`), interrupt, restart, stop.

    Per-cell limits apply; the total time limit does not (the idle culler ends sessions).
    `interrupt()` may be called from another thread while `execute()` runs.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        pool: KernelPool | None = None,
        mode: str | None = None,
        runtime_dir: Path | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        """`runtime_dir` (a course runtime) applies without a pool; a pool has its own.
        `start_timeout_s`: how long `start()` waits for the pool's next kernel."""
        self.limits = limits or Limits()
        self.start_timeout_s = start_timeout_s
        self.runtime_dir = runtime_dir
        self.pool = pool
        self.mode = mode
        self.kernel: Kernel | None = None
        self.last_activity = time.time()
        self.execution_count = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.kernel is None:
                self.kernel = self._new_kernel()
            self.last_activity = time.time()

    def _new_kernel(self) -> Kernel:
        if self.pool is not None:
            kernel = self.pool.acquire(limits=self.limits, timeout=self.start_timeout_s)
        else:
            kernel = launch.start_kernel(
                limits=self.limits, mode=self.mode, runtime_dir=self.runtime_dir
            )
        kernel.run_deadline = math.inf
        return kernel

    def execute(
        self, code: str, *, on_output: Callable[[dict[str, Any]], None] | None = None
    ) -> CellResult:
        kernel = self.kernel
        if kernel is None:
            raise SandboxInfraError("the session is not started")
        self.last_activity = time.time()
        # Each cell gets the full output budget; a session has no run-wide budget.
        kernel.output_used = 0
        kernel.stopped_by = None if kernel.is_alive() else kernel.stopped_by
        result = kernel.execute(code, on_output=on_output, index=self.execution_count)
        self.execution_count += 1
        self.last_activity = time.time()
        return result

    def interrupt(self) -> None:
        if self.kernel is not None:
            self.kernel.interrupt()

    def is_alive(self) -> bool:
        return self.kernel is not None and self.kernel.is_alive()

    def cpu_seconds(self) -> float | None:
        """CPU time the current kernel used so far (None when unknown)."""
        kernel = self.kernel
        return kernel.cpu_seconds() if kernel is not None else None

    def restart(self) -> None:
        """A fresh kernel: nothing survives from the previous one."""
        with self._lock:
            if self.kernel is not None:
                self.kernel.shutdown()
            self.kernel = self._new_kernel()
            self.execution_count = 0
            self.last_activity = time.time()

    def stop(self) -> None:
        with self._lock:
            if self.kernel is not None:
                self.kernel.shutdown()
                self.kernel = None

    def __enter__(self) -> Session:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
