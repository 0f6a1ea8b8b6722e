"""A warm pool: kernels started ahead by one long-lived thread, each used once, then destroyed.

Kernels are started only from the pool's own thread: bubblewrap's `--die-with-parent`
(and the zygote's parent-death signal) follow the thread that started them, so a worker
killed with SIGKILL takes its kernels with it instead of leaving orphans.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

from sandbox import launch, slots
from sandbox.kernel import Kernel, drain_destroyed
from sandbox.limits import Limits, SandboxInfraError

logger = logging.getLogger(__name__)
HEALTH_CHECK_S = 1.0
RETRY_DELAY_S = 1.0
# Kernels started at once for callers waiting on an empty pool (a class arriving together):
# they boot in parallel instead of one after the other.
MAX_PARALLEL_STARTS = 8


def process_limits(limits: Limits) -> tuple[int, ...]:
    """The limits fixed when a kernel starts; the others are enforced by the client."""
    return (
        limits.memory_mb,
        limits.processes,
        limits.cpu_seconds,
        limits.file_size_mb,
        limits.tmpfs_mb,
        limits.cpu_weight,
    )


class KernelPool:
    def __init__(
        self,
        *,
        size: int = 2,
        limits: Limits | None = None,
        mode: str | None = None,
        runtime_dir: Path | None = None,
    ):
        """`runtime_dir`: the pool's kernels run in this course runtime (one pool per
        runtime: kernels of different runtimes never mix)."""
        self.size = size
        self.runtime_dir = runtime_dir
        self.limits = limits or Limits()
        self.mode = mode or launch.sandbox_mode()
        self._ready: deque[Kernel] = deque()
        self._ready_changed = threading.Condition()
        self._requests: queue.Queue[tuple[Limits, Future[Kernel]]] = queue.Queue()
        self._closed = threading.Event()
        self._waiting = 0  # callers of acquire() waiting for a kernel
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None

    def start(self) -> None:
        """Clean orphans of a killed worker, then start filling in the background."""
        if self._thread is not None:
            return
        if self.mode != "insecure":
            cleaned = slots.clean_orphans()
            if cleaned:
                logger.warning("sandbox: cleaned orphans of slot uids %s", cleaned)
        self._thread = threading.Thread(target=self._fill_forever, name="sandbox-pool", daemon=True)
        self._thread.start()

    def acquire(self, *, limits: Limits | None = None, timeout: float = 30) -> Kernel:
        """A ready kernel for one run. Yours to `shutdown()`; never give it back."""
        self.start()
        limits = limits or self.limits
        if process_limits(limits) != process_limits(self.limits):
            return self._start_on_pool_thread(limits, timeout)
        deadline = time.monotonic() + timeout
        with self._ready_changed:
            self._waiting += 1
            try:
                return self._take(limits, deadline, timeout)
            finally:
                self._waiting -= 1

    def _take(self, limits: Limits, deadline: float, timeout: float) -> Kernel:
        """The next ready kernel; the caller holds `_ready_changed`."""
        while True:
            while self._ready:
                kernel = self._ready.popleft()
                self._ready_changed.notify_all()
                if kernel.is_alive():
                    kernel.limits = limits
                    return kernel
                kernel.shutdown()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed.is_set():
                raise SandboxInfraError(
                    f"no sandboxed kernel became ready within {timeout:g} s"
                    + (f": {self.last_error}" if self.last_error else "")
                )
            self._ready_changed.wait(min(remaining, 0.5))

    @contextlib.contextmanager
    def kernel(self, *, limits: Limits | None = None) -> Iterator[Kernel]:
        kernel = self.acquire(limits=limits)
        try:
            yield kernel
        finally:
            kernel.shutdown()

    def ready_count(self) -> int:
        with self._ready_changed:
            return len(self._ready)

    def wait_ready(self, count: int, *, timeout: float = 60) -> bool:
        """Wait until `count` kernels are warm (True), or `timeout` seconds went by (False)."""
        self.start()
        with self._ready_changed:
            return self._ready_changed.wait_for(lambda: len(self._ready) >= count, timeout)

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._ready_changed:
            while self._ready:
                self._ready.popleft().shutdown()
        while not self._requests.empty():
            _, future = self._requests.get_nowait()
            future.set_exception(SandboxInfraError("the kernel pool is closed"))
        drain_destroyed()

    def __enter__(self) -> KernelPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_on_pool_thread(self, limits: Limits, timeout: float) -> Kernel:
        future: Future[Kernel] = Future()
        self._requests.put((limits, future))
        return future.result(timeout=timeout)

    def _fill_forever(self) -> None:
        next_check = 0.0
        while not self._closed.is_set():
            try:
                self._serve_requests()
                if time.monotonic() >= next_check:
                    self._drop_dead()
                    next_check = time.monotonic() + HEALTH_CHECK_S
                missing = self._missing()
                if missing > 0:
                    self._start_several(missing)
                    self.last_error = None
                else:
                    with self._ready_changed:
                        self._ready_changed.wait(0.05)
            except Exception as error:
                self.last_error = error
                logger.exception("sandbox: starting a kernel failed")
                self._closed.wait(RETRY_DELAY_S)

    def _missing(self) -> int:
        """Kernels to start now: up to the pool's size, and one more for each caller
        waiting beyond what is ready (at most MAX_PARALLEL_STARTS at once)."""
        with self._ready_changed:
            ready, waiting = len(self._ready), self._waiting
        return min(MAX_PARALLEL_STARTS, max(self.size - ready, waiting - ready))

    def _start_several(self, count: int) -> None:
        """Start `count` kernels at once, then wait for each: they boot in parallel."""
        booting = [
            launch.start_kernel(
                limits=self.limits, mode=self.mode, wait=False, runtime_dir=self.runtime_dir
            )
            for _ in range(count)
        ]
        try:
            while booting:
                kernel = booting[0]
                kernel.wait_ready()
                booting.pop(0)
                with self._ready_changed:
                    self._ready.append(kernel)
                    self._ready_changed.notify_all()
        finally:
            for kernel in booting:
                kernel.shutdown()

    def _serve_requests(self) -> None:
        while True:
            try:
                limits, future = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                kernel = launch.start_kernel(
                    limits=limits, mode=self.mode, runtime_dir=self.runtime_dir
                )
                future.set_result(kernel)
            except Exception as error:
                future.set_exception(error)

    def _drop_dead(self) -> None:
        with self._ready_changed:
            dead = [kernel for kernel in self._ready if not kernel.is_alive()]
            for kernel in dead:
                self._ready.remove(kernel)
        for kernel in dead:
            logger.warning("sandbox: a warm kernel died; replacing it")
            kernel.shutdown()
