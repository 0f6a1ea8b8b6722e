"""The data that crosses the sandbox's public API: limits in, frozen results out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 512  # cgroup memory (RLIMIT_AS backstop)
    processes: int = 64
    cpu_seconds: int = 60
    file_size_mb: int = 64
    tmpfs_mb: int = 64  # private home and /tmp
    cell_timeout_s: float = 30.0  # per cell wall time: interrupt, then kill
    total_timeout_s: float = 120.0
    output_bytes: int = 1_000_000  # captured output cap per run (truncated with a marker)
    cpu_weight: int = 100  # share of the CPU against other kernels (cgroup v2 scale, 1..10000)

    def __post_init__(self) -> None:
        for name in ("memory_mb", "processes", "cpu_seconds", "file_size_mb", "tmpfs_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1")
        if self.cell_timeout_s <= 0 or self.total_timeout_s <= 0:
            raise ValueError("Limits timeouts must be positive")
        if not 1 <= self.cpu_weight <= 10000:
            raise ValueError("Limits.cpu_weight must be between 1 and 10000")
        if self.output_bytes < 1024:
            raise ValueError("Limits.output_bytes must be at least 1024")


@dataclass(frozen=True)
class CellResult:
    index: int
    status: str  # "ok" | "error" | "timeout" | "killed" | "not_run"
    outputs: tuple[dict[str, Any], ...]  # nbformat v4 output dicts
    duration_s: float
    user_expressions: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "outputs": list(self.outputs),
            "duration_s": round(self.duration_s, 4),
        }


@dataclass(frozen=True)
class RunResult:
    cells: tuple[CellResult, ...]
    stopped_by: str | None  # None | "timeout" | "memory" | "output" | "cpu" | "dead"
    peak_memory_mib: float | None
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "cells": [cell.to_json() for cell in self.cells],
            "stopped_by": self.stopped_by,
            "peak_memory_mib": self.peak_memory_mib,
            "duration_s": round(self.duration_s, 4),
        }


class SandboxError(Exception):
    """Base of every error the sandbox raises."""


class SandboxUserError(SandboxError):
    """The learner's code misbehaved: a limit stopped it. Show it; do not retry."""

    def __init__(self, message: str, *, stopped_by: str | None = None) -> None:
        super().__init__(message)
        self.stopped_by = stopped_by


class SandboxInfraError(SandboxError):
    """Ours: isolation missing, a kernel that would not start... Log it and retry."""
