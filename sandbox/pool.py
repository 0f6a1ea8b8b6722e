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

import zmq

from sandbox import launch, slots
from sandbox.kernel import Kernel, ReadyWait, drain_destroyed
from sandbox.limits import Limits, SandboxInfraError

logger = logging.getLogger(__name__)
HEALTH_CHECK_S = 1.0
RETRY_DELAY_S = 1.0
# Kernels booting at once (a class arriving together): they boot in parallel, and a new one
# starts as soon as one is ready, not when the whole batch is.
MAX_PARALLEL_STARTS = 8
# A pool with `burst` > size keeps as many warm kernels as were handed out over the last
# DEMAND_WINDOW_S (up to `burst`): kernels start ahead of a class's next learners.
DEMAND_WINDOW_S = 10.0
BOOT_POLL_S = 0.02


def process_limits(limits: Limits) -> tuple[int | bool, ...]:
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
        burst: int = 0,
        runtime_dir: Path | None = None,
        grading: bool = False,
    ):
        """`runtime_dir`: the pool's kernels run in this course runtime (one pool per
        runtime: kernels of different runtimes never mix). `grading`: its kernels grade
        (launch.start_kernel)."""
        self.size = size
        self.runtime_dir = runtime_dir
        self.grading = grading
        self.burst = burst
        self._handed_out: deque[float] = deque()  # when kernels were handed out, recently
        self.clock = time.monotonic  # for the demand window (a test may set it)
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
                    self._handed_out.append(self.clock())
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
        booting: list[ReadyWait] = []
        next_check = 0.0
        try:
            while not self._closed.is_set():
                try:
                    self._serve_requests()
                    if time.monotonic() >= next_check:
                        self._drop_dead()
                        next_check = time.monotonic() + HEALTH_CHECK_S
                    for _ in range(self._missing(booting=len(booting))):
                        kernel = launch.start_kernel(
                            limits=self.limits,
                            mode=self.mode,
                            wait=False,
                            runtime_dir=self.runtime_dir,
                            grading=self.grading,
                        )
                        booting.append(ReadyWait(kernel))
                    if booting:
                        self._advance(booting)
                    else:
                        with self._ready_changed:
                            self._ready_changed.wait(0.05)
                except Exception as error:
                    self.last_error = error
                    logger.exception("sandbox: starting a kernel failed")
                    self._closed.wait(RETRY_DELAY_S)
        finally:
            for waiting in booting:
                waiting.kernel.shutdown()

    def target(self) -> int:
        """Warm kernels to keep: the pool's size, or as many as were handed out lately
        when that is more (up to `burst`)."""
        if self.burst <= self.size:
            return self.size
        horizon = self.clock() - DEMAND_WINDOW_S
        with self._ready_changed:
            while self._handed_out and self._handed_out[0] < horizon:
                self._handed_out.popleft()
            recent = len(self._handed_out)
        return max(self.size, min(self.burst, recent))

    def _missing(self, *, booting: int) -> int:
        """Kernels to start now: up to the target, and one more for each caller waiting
        beyond what is ready or booting (at most MAX_PARALLEL_STARTS booting at once)."""
        target = self.target()
        with self._ready_changed:
            ready, waiting = len(self._ready), self._waiting
        wanted = max(target - ready, waiting - ready) - booting
        return max(0, min(MAX_PARALLEL_STARTS - booting, wanted))

    def _advance(self, booting: list[ReadyWait]) -> None:
        """One look at every booting kernel: the ready ones join the pool, failed ones are
        destroyed; waits a little for the next message when none got anywhere."""
        progressed = False
        for waiting in list(booting):
            try:
                ready = waiting.step(0)
            except SandboxInfraError as error:
                booting.remove(waiting)
                waiting.kernel.shutdown()
                self.last_error = error
                logger.warning("sandbox: a kernel failed to start: %s", error)
                progressed = True
                continue
            if ready:
                booting.remove(waiting)
                progressed = True
                self.last_error = None
                with self._ready_changed:
                    self._ready.append(waiting.kernel)
                    self._ready_changed.notify_all()
        if booting and not progressed:
            poller = zmq.Poller()
            for waiting in booting:
                for sock in waiting.kernel.channels.sockets.values():
                    poller.register(sock, zmq.POLLIN)
            poller.poll(int(BOOT_POLL_S * 1000))

    def _serve_requests(self) -> None:
        while True:
            try:
                limits, future = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                kernel = launch.start_kernel(
                    limits=limits,
                    mode=self.mode,
                    runtime_dir=self.runtime_dir,
                    grading=self.grading,
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
