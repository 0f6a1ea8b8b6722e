"""The worker's side of the sandbox: one warm kernel pool per worker process.

Only Celery workers call this; the web process never starts a kernel.
"""

import threading
from typing import Any

from django.conf import settings

from sandbox import Kernel, KernelPool, Limits

_pool: KernelPool | None = None
_pool_lock = threading.Lock()


def grading_limits() -> Limits:
    return Limits(
        memory_mb=settings.SANDBOX_MEMORY_MB,
        cpu_seconds=settings.SANDBOX_CPU_SECONDS,
        cell_timeout_s=settings.SANDBOX_CELL_TIMEOUT_S,
        total_timeout_s=settings.SANDBOX_TOTAL_TIMEOUT_S,
    )


def kernel_pool() -> KernelPool:
    """This process's pool, started on first use (after Celery forked the process)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = KernelPool(size=settings.SANDBOX_POOL_SIZE, limits=grading_limits())
            _pool.start()
        return _pool


def acquire_kernel(*, limits: Limits | None = None) -> Kernel:
    return kernel_pool().acquire(limits=limits or grading_limits(), timeout=60)


def close_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


class MeteredKernel:
    """A kernel that remembers the CPU time its sandbox used, read just before it is
    destroyed (the cgroup goes with it). Everything else is the kernel's own."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self.cpu_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kernel, name)

    def shutdown(self) -> None:
        cgroup = getattr(self._kernel, "cgroup", None)
        used = cgroup.cpu_seconds() if cgroup is not None else None
        if used is not None:
            self.cpu_seconds = max(self.cpu_seconds, used)
        self._kernel.shutdown()
