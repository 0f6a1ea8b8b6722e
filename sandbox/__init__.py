"""Sandboxed Jupyter kernels: isolated, limited, warm, used once.

A plain library: no Django, nothing from the platform's packages.
"""

from sandbox.capacity import memory_available_mib, raise_open_files_limit, sessions_that_fit
from sandbox.environment_gc import Collected, collect_environments
from sandbox.environments import (
    MAX_PINS,
    PinError,
    build_environment,
    build_percent,
    environment_key,
    environment_path,
    environment_ready,
    parse_pins,
    requirements_digest,
)
from sandbox.kernel import Kernel
from sandbox.launch import start_kernel
from sandbox.limits import (
    CellResult,
    Limits,
    RunResult,
    SandboxError,
    SandboxInfraError,
    SandboxUserError,
)
from sandbox.pool import KernelPool
from sandbox.run import executed_notebook, raise_for_stop, run_cells, run_notebook
from sandbox.session import Session
from sandbox.state import shared_dir

__all__ = [
    "MAX_PINS",
    "CellResult",
    "Collected",
    "Kernel",
    "KernelPool",
    "Limits",
    "PinError",
    "RunResult",
    "SandboxError",
    "SandboxInfraError",
    "SandboxUserError",
    "Session",
    "build_environment",
    "build_percent",
    "collect_environments",
    "environment_key",
    "environment_path",
    "environment_ready",
    "executed_notebook",
    "memory_available_mib",
    "parse_pins",
    "raise_for_stop",
    "raise_open_files_limit",
    "requirements_digest",
    "run_cells",
    "run_notebook",
    "sessions_that_fit",
    "shared_dir",
    "start_kernel",
]
