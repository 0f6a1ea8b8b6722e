"""One isolated kernel, used for exactly one run, then destroyed."""

from __future__ import annotations

import atexit
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from sandbox import client, mounts, outputs
from sandbox.cgroups import Cgroup
from sandbox.limits import CellResult, Limits, SandboxInfraError
from sandbox.slots import UidLease

logger = logging.getLogger(__name__)
READY_TIMEOUT_S = 30.0


class KernelProcess(Protocol):
    """How a kernel was started (bwrap, zygote fork, insecure local)."""

    def is_alive(self) -> bool: ...

    def kill(self) -> None:
        """Kill everything and wait until it is gone."""

    def kill_now(self) -> None:
        """Send the kill without waiting."""


class Kernel:
    """A started, isolated kernel. Thread-compatible, not thread-safe: one caller at a time."""

    def __init__(
        self,
        *,
        process: KernelProcess,
        info: dict[str, Any],
        limits: Limits,
        host_dir: Path,
        kernel_dir: str,
        cgroup: Cgroup | None,
        lease: UidLease | None,
        environment: dict[str, str] | None = None,
        modules_from_source: Sequence[str] = (),
    ) -> None:
        self.process = process
        # What the kernel's environment holds from its start, where the launcher knows it.
        self.environment: dict[str, str] = dict(environment or {})
        # Modules its zygote defined from source for it (sandbox.trusted.helper's).
        self.modules_from_source = frozenset(modules_from_source)
        self.limits = limits
        self.host_dir = host_dir
        self.kernel_dir = kernel_dir
        self.cgroup = cgroup
        self.lease = lease
        # Called once the kernel is destroyed (a course runtime's hold is released so).
        self.on_destroyed: list[Callable[[], None]] = []
        self.stopped_by: str | None = None
        self.output_used = 0
        self.run_deadline: float | None = None
        self.interrupt_requested = False
        # The clock the time limits are measured on (a test may move it forward).
        self.clock: Callable[[], float] = time.monotonic
        self._info = info
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        self._destroyed = threading.Event()
        self.channels = client.Channels(info, max_message_bytes=_max_message_bytes(limits))

    @property
    def uid(self) -> int | None:
        """The slot uid learner code runs as (None in the insecure local mode): services that
        the sandbox reaches by socket identify the caller by it."""
        return self.lease.uid if self.lease is not None else None

    def connection_info(self) -> dict[str, Any]:
        """Host-side connection info (transport ipc), for another trusted process's client."""
        return dict(self._info)

    @property
    def peak_memory_mib(self) -> float | None:
        peak = self.cgroup.peak_bytes() if self.cgroup else None
        return round(peak / (1024 * 1024), 1) if peak is not None else None

    def is_alive(self) -> bool:
        return not self._closed and self.process.is_alive()

    def cpu_seconds(self) -> float | None:
        """CPU time its processes used so far; None without a cgroup, or once destroyed."""
        return self.cgroup.cpu_seconds() if self.cgroup is not None else None

    def wait_ready(self, *, timeout: float = READY_TIMEOUT_S) -> None:
        """kernel_info round trips until both a reply and an iopub message (subscribed) came."""
        waiting = ReadyWait(self, timeout=timeout)
        while not waiting.step(0.05):
            pass

    def _log_tail(self) -> str:
        try:
            return (self.host_dir / "kernel.log").read_text(errors="replace")[-2000:].strip()
        except OSError:
            return "(no log)"

    def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        user_expressions: dict[str, str] | None = None,
        on_output: Callable[[dict[str, Any]], None] | None = None,
        index: int = 0,
        rich_outputs: bool = True,
    ) -> CellResult:
        """Run one cell. A limit hit sets `stopped_by`; the cell's status says what happened.

        With `rich_outputs` false the cell's displays are text only, so a figure is closed
        undrawn (kernel_displays.py): for a cell whose outputs are thrown away.
        """
        with self._lock:
            try:
                return self._execute(
                    code, timeout, user_expressions, on_output, index, rich_outputs
                )
            finally:
                if self._closed:  # shut down from another thread meanwhile: ours to finish
                    self._release(wait=False)

    def _execute(
        self,
        code: str,
        timeout: float | None,
        user_expressions: dict[str, str] | None,
        on_output: Callable[[dict[str, Any]], None] | None,
        index: int,
        rich_outputs: bool,
    ) -> CellResult:
        if self.stopped_by is not None or not self.is_alive():
            # A limit ended this run: the kernel takes no more cells (Session resets it).
            self.stopped_by = self.stopped_by or "dead"
            return CellResult(index=index, status="not_run", outputs=(), duration_s=0.0)
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": user_expressions or {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        if self.run_deadline is None:
            self.run_deadline = self.clock() + self.limits.total_timeout_s
        # An interrupt asked for while the previous cell was ending is not this cell's.
        self.interrupt_requested = False
        metadata = None if rich_outputs else {"rich_outputs": False}
        msg_id = self.channels.send("shell", "execute_request", content, metadata)
        cell_timeout = timeout if timeout is not None else self.limits.cell_timeout_s
        run = outputs.CellRun(
            kernel=self, msg_id=msg_id, index=index, timeout_s=cell_timeout, on_output=on_output
        )
        return run.wait()

    def interrupt(self) -> None:
        """Interrupt the running cell; safe to call from another thread than execute()'s.

        Message mode: bwrap does not forward SIGINT. zmq sockets are not thread-safe, so
        while a cell runs, its own loop sends the request.
        """
        if self._lock.acquire(blocking=False):
            try:
                self.send_interrupt()
            finally:
                self._lock.release()
        else:
            self.interrupt_requested = True

    def send_interrupt(self) -> None:
        self.interrupt_requested = False
        if self.is_alive():
            self.channels.send("control", "interrupt_request", {})

    def kill_for(self, reason: str) -> None:
        self.stopped_by = self.stopped_by or reason
        self.process.kill()

    def death_reason(self) -> str:
        """Why the kernel died, as far as the cgroup can tell."""
        if self.cgroup is not None:
            if self.cgroup.oom_killed():
                return "memory"
            used = self.cgroup.cpu_seconds()
            # RLIMIT_CPU counts in coarse ticks: a kernel it killed may show a bit less here.
            if used is not None and used >= self.limits.cpu_seconds * 0.9:
                return "cpu"
        return "dead"

    def shutdown(self, *, wait: bool = False) -> None:
        """Destroy the kernel (idempotent). It is killed at once; its cgroup, directory and
        uid are released by a background thread unless `wait` is true.

        Safe from another thread while execute() runs (a restart does not wait for the
        cell): that cell ends as killed, and its thread, the only one using the sockets,
        releases the kernel when it returns.
        """
        if not self._closed:
            self._closed = True
            self.process.kill_now()
            if self._lock.acquire(blocking=False):
                try:
                    self._release(wait=wait)
                finally:
                    self._lock.release()
        if wait:
            self._destroyed.wait()

    def _release(self, *, wait: bool) -> None:
        """Close the sockets and destroy the rest, once; the caller holds `_lock`."""
        if self._released:
            return
        self._released = True
        self.channels.close()
        if wait:
            self._destroy()
        else:
            _graveyard.bury(self)

    def _destroy(self) -> None:
        try:
            self.process.kill()
            if self.cgroup is not None:
                self.cgroup.destroy()
            mounts.unmount(self.host_dir)
            shutil.rmtree(self.host_dir, ignore_errors=True)
        finally:
            if self.lease is not None:
                self.lease.release()
            for callback in self.on_destroyed:
                callback()
            self._destroyed.set()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class ReadyWait:
    """Waiting for a started kernel to answer, one poll at a time, so that one thread can
    wait for several booting kernels at once (the warm pool does)."""

    def __init__(self, kernel: Kernel, *, timeout: float = READY_TIMEOUT_S) -> None:
        self.kernel = kernel
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.sent: set[str] = set()
        self.replied = self.iopub_seen = False
        self.resend_at = 0.0

    def step(self, wait_s: float) -> bool:
        """Handle what came within `wait_s`: True once the kernel answers; raises
        SandboxInfraError when it exited or the time is up."""
        kernel = self.kernel
        now = time.monotonic()
        if now >= self.deadline:
            raise SandboxInfraError(
                f"the kernel did not answer within {self.timeout:.0f} s "
                f"(replied={self.replied}, iopub={self.iopub_seen}, "
                f"alive={kernel.process.is_alive()}, "
                f"dir={sorted(p.name for p in kernel.host_dir.iterdir())}): "
                f"{kernel._log_tail()[-300:]}"
            )
        if not self.iopub_seen and now >= self.resend_at:
            self.sent.add(kernel.channels.send("shell", "kernel_info_request", {}))
            self.resend_at = now + 0.5
        messages = kernel.channels.poll(wait_s)
        for channel, msg in messages:
            self.iopub_seen |= channel == "iopub"
            self.replied |= channel == "shell" and client.parent_id(msg) in self.sent
        if self.replied and self.iopub_seen:
            return True
        if not messages and not kernel.process.is_alive():
            raise SandboxInfraError(f"the kernel exited while starting: {kernel._log_tail()}")
        return False


class _Graveyard:
    """Finishes destroying kernels off the caller's path: waiting for the processes to
    go, removing the cgroup and the tmpfs take milliseconds a run need not wait for."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Kernel] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def bury(self, kernel: Kernel) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._work, name="sandbox-reaper", daemon=True
                )
                self.thread.start()
                atexit.register(self.drain)
        self.queue.put(kernel)

    def _work(self) -> None:
        while True:
            kernel = self.queue.get()
            try:
                kernel._destroy()
            except Exception:
                logger.exception("sandbox: destroying a kernel failed")
            finally:
                self.queue.task_done()

    def drain(self) -> None:
        """Wait until every kernel shut down so far is fully destroyed."""
        self.queue.join()


_graveyard = _Graveyard()


def drain_destroyed() -> None:
    _graveyard.drain()


def _max_message_bytes(limits: Limits) -> int:
    # One message may carry at most the whole output budget plus its JSON envelope.
    return limits.output_bytes * 2 + 65536
