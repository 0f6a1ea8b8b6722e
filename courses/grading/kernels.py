"""The worker's side of the sandbox: this process's warm kernel pools, and kernels lent to
one learner's run with access to the model gateway.

Two pools, one per use: `grading` (submissions and validations, SANDBOX_* limits) and
`interactive` (learners' live notebooks, INTERACTIVE_* limits). Only Celery workers call
this; the web process never starts a kernel.
"""

import os
import socket
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from courses.cohorts.quotas import model_token_quota
from courses.models import Cohort
from gateway.process import socket_path
from gateway.services import grant_register, grant_revoke
from sandbox import Kernel, KernelPool, Limits, shared_dir

GRANT_SLACK_S = 30
GRADING = "grading"
INTERACTIVE = "interactive"

# Keyed by use and runtime (None: the kernel runtime; else a course runtime's folder):
# kernels of different runtimes never mix.
_pools: dict[tuple[str, Path | None], KernelPool] = {}
_pools_lock = threading.Lock()


def grading_limits() -> Limits:
    return Limits(
        memory_mb=settings.SANDBOX_MEMORY_MB,
        cpu_seconds=settings.SANDBOX_CPU_SECONDS,
        cell_timeout_s=settings.SANDBOX_CELL_TIMEOUT_S,
        total_timeout_s=settings.SANDBOX_TOTAL_TIMEOUT_S,
    )


def interactive_limits() -> Limits:
    return Limits(
        memory_mb=settings.INTERACTIVE_MEMORY_MB,
        cpu_seconds=settings.INTERACTIVE_CPU_SECONDS,
        cell_timeout_s=settings.INTERACTIVE_CELL_TIMEOUT_S,
        total_timeout_s=settings.INTERACTIVE_CELL_TIMEOUT_S,
    )


def _pool_spec(use: str, runtime_dir: Path | None = None) -> tuple[int, Limits]:
    if use == GRADING:
        size, limits = settings.SANDBOX_POOL_SIZE, grading_limits()
    elif use == INTERACTIVE:
        size, limits = settings.INTERACTIVE_POOL_SIZE, interactive_limits()
    else:
        raise ValueError(f"Unknown kernel pool {use!r}")
    return (size if runtime_dir is None else settings.COURSE_RUNTIME_POOL_SIZE), limits


def expose_gateway() -> None:
    """Kernels started from now on see the model gateway's socket directory, read-only
    (sandbox.isolation mounts SANDBOX_GATEWAY_DIR at /run/gateway)."""
    os.environ["SANDBOX_GATEWAY_DIR"] = str(shared_dir(settings.GATEWAY_SOCKET_DIR))


def model_service_up(timeout_s: float = 2.0) -> bool:
    """Whether the model gateway accepts connections on the socket kernels use (grading
    asks when a learner's run met ModelServiceUnavailable)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout_s)
            probe.connect(str(socket_path()))
    except OSError:
        return False
    return True


def kernel_pool(
    use: str = GRADING, runtime_dir: Path | None = None, *, size: int | None = None
) -> KernelPool:
    """This process's pool for `use` in `runtime_dir` (a course runtime; None: the kernel
    runtime), started on first use (after Celery forked the process); `size` then
    overrides the warm kernels the settings give the kernel runtime's pool."""
    with _pools_lock:
        pool = _pools.get((use, runtime_dir))
        if pool is None:
            spec_size, limits = _pool_spec(use, runtime_dir)
            size = size if size is not None and runtime_dir is None else spec_size
            expose_gateway()
            busy = use == INTERACTIVE and runtime_dir is None
            burst = settings.INTERACTIVE_POOL_BURST if busy else 0
            pool = KernelPool(
                size=size,
                limits=limits,
                burst=burst,
                runtime_dir=runtime_dir,
                grading=use == GRADING,
            )
            _pools[(use, runtime_dir)] = pool
            pool.start()
        return pool


def pool_stats(use: str = GRADING) -> dict[str, Any]:
    """How many of the pool's kernels are ready to hand out (none when it is not started)."""
    pool = _pools.get((use, None))
    return {
        "started": pool is not None,
        "ready": pool.ready_count() if pool is not None else 0,
        "size": pool.size if pool is not None else _pool_spec(use)[0],
    }


def acquire_kernel(*, limits: Limits | None = None, runtime_dir: Path | None = None) -> Kernel:
    pool = kernel_pool(GRADING, runtime_dir)
    return pool.acquire(limits=limits or grading_limits(), timeout=60)


def close_pool(use: str = GRADING) -> None:
    """Close this process's pools for `use`, every runtime's."""
    with _pools_lock:
        closing = [_pools.pop(key) for key in list(_pools) if key[0] == use]
    for pool in closing:
        pool.close()


class LearnerKernel:
    """A kernel lent to one learner's run: while it lives, learner code may call the model
    gateway as that learner (a grant on the kernel's slot uid), and just before it is
    destroyed the CPU time its sandbox used is read (the cgroup goes with it). Everything
    else is the kernel's own."""

    def __init__(
        self, kernel: Kernel, *, user_id: int, course_id: int | None, cohort: Cohort | None = None
    ) -> None:
        self._kernel = kernel
        self.cpu_seconds = 0.0
        if kernel.uid is not None:
            grant_models(
                uid=kernel.uid,
                user_id=user_id,
                course_id=course_id,
                cohort=cohort,
                ttl_s=kernel.limits.total_timeout_s + GRANT_SLACK_S,
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kernel, name)

    def shutdown(self) -> None:
        cgroup = getattr(self._kernel, "cgroup", None)
        used = cgroup.cpu_seconds() if cgroup is not None else None
        if used is not None:
            self.cpu_seconds = max(self.cpu_seconds, used)
        uid = self._kernel.uid
        try:
            self._kernel.shutdown()
        finally:
            if uid is not None:
                grant_revoke(uid=uid)


def learner_kernel(
    *,
    user_id: int,
    course_id: int | None,
    cohort: Cohort | None,
    runtime_dir: Path | None = None,
) -> LearnerKernel:
    kernel = acquire_kernel(runtime_dir=runtime_dir)
    return LearnerKernel(kernel, user_id=user_id, course_id=course_id, cohort=cohort)


def grant_models(
    *, uid: int, user_id: int, course_id: int | None, cohort: Cohort | None, ttl_s: float
) -> None:
    """Let learner code on slot `uid` call the model gateway as `user_id`, charged to the
    cohort's daily model-token quota when there is a cohort."""
    quota_key, quota_limit = (
        model_token_quota(user_id=user_id, cohort=cohort) if cohort else (None, None)
    )
    grant_register(
        uid=uid,
        user_id=user_id,
        course_id=course_id,
        ttl_s=ttl_s,
        quota_key=quota_key,
        quota_limit=quota_limit,
    )
