"""Per-kernel cgroups: the real memory and process limits (rlimits are only backstops), and
each kernel's CPU weight: kernels share the CPU as equals, however many threads a runaway
loop starts.

cgroup v1 (separate memory, pids, cpuacct and cpu hierarchies) and v2 (unified) are handled.
Each kernel gets `<this process's cgroup>/sandbox/<name>` in every controller used.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpuacct", "cpu")
# cgroup v2's default cpu.weight; v1's cpu.shares scale is 1024 for the same share.
DEFAULT_CPU_WEIGHT = 100
# How long destroy() waits for a killed kernel's processes to be gone (a safety net only).
DESTROY_WITHIN_S = 120.0


@functools.cache
def cgroup_version() -> int | None:
    """2 for a unified hierarchy, 1 when the v1 memory and pids controllers are mounted
    (read once: a host's hierarchy does not change under a running process)."""
    if (ROOT / "cgroup.controllers").exists():
        return 2
    if (ROOT / "memory" / "cgroup.procs").exists() and (ROOT / "pids" / "cgroup.procs").exists():
        return 1
    return None


def own_path(controller: str) -> str:
    """This process's cgroup path in a v1 controller ("" selects the v2 hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and controllers == ""):
            return path.lstrip("/")
    return ""


def base_dirs() -> list[Path]:
    """The `sandbox` parent directories under which per-kernel cgroups are made (found once
    per process: each kernel's start asked for them, at ~20 file reads and stats a time)."""
    return list(_base_dirs())


@functools.cache
def _base_dirs() -> tuple[Path, ...]:
    version = cgroup_version()
    if version == 2:
        return (ROOT / own_path("") / "sandbox",)
    if version == 1:
        return tuple(
            ROOT / controller / own_path(controller) / "sandbox"
            for controller in V1_CONTROLLERS
            if (ROOT / controller / "cgroup.procs").exists()
        )
    return ()


@dataclass
class Cgroup:
    """One kernel's cgroup(s). Create with `Cgroup.create`; always `destroy()` it."""

    version: int
    dirs: list[Path]

    @classmethod
    def create(
        cls, *, name: str, memory_bytes: int, pids_max: int, cpu_weight: int = DEFAULT_CPU_WEIGHT
    ) -> Cgroup | None:
        """Make the cgroup with its limits, or return None where cgroups cannot be used."""
        version = cgroup_version()
        if version is None or os.geteuid() != 0:
            return None
        dirs = [base / name for base in base_dirs()]
        group = cls(version=version, dirs=dirs)
        try:
            group._make(memory_bytes=memory_bytes, pids_max=pids_max, cpu_weight=cpu_weight)
        except OSError:
            group.destroy()
            return None
        return group

    def _make(self, *, memory_bytes: int, pids_max: int, cpu_weight: int) -> None:
        if self.version == 2:
            base = self.dirs[0].parent
            base.mkdir(exist_ok=True)
            _write(base.parent / "cgroup.subtree_control", "+memory +pids", check=False)
            _write(base / "cgroup.subtree_control", "+memory +pids")
            # Where the cpu controller is not delegated to us, kernels share as threads.
            _write(base.parent / "cgroup.subtree_control", "+cpu", check=False)
            _write(base / "cgroup.subtree_control", "+cpu", check=False)
        for directory in self.dirs:
            directory.mkdir(parents=True, exist_ok=True)
        if self.version == 2:
            group = self.dirs[0]
            _write(group / "memory.max", str(memory_bytes))
            _write(group / "memory.swap.max", "0", check=False)
            _write(group / "pids.max", str(pids_max))
            _write(group / "cpu.weight", str(cpu_weight), check=False)
            return
        memory, pids = self._v1("memory"), self._v1("pids")
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        # Without a memsw limit the kernel would page the learner's memory out to swap.
        _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes), check=False)
        _write(pids / "pids.max", str(pids_max))
        with contextlib.suppress(KeyError):
            _write(self._v1("cpu") / "cpu.shares", str(v1_shares(cpu_weight)))

    def cpu_weight(self) -> int | None:
        """The weight in force, on v2's scale (v1's shares converted back)."""
        if self.version == 2:
            return _read_int(self.dirs[0] / "cpu.weight")
        try:
            shares = _read_int(self._v1("cpu") / "cpu.shares")
        except KeyError:
            return None
        return round(shares * DEFAULT_CPU_WEIGHT / 1024) if shares is not None else None

    def _v1(self, controller: str) -> Path:
        for directory in self.dirs:
            if directory.parts[4] == controller:
                return directory
        raise KeyError(controller)

    @property
    def procs_files(self) -> list[Path]:
        """Write a pid into each of these to move that process into the cgroup."""
        return [directory / "cgroup.procs" for directory in self.dirs]

    def add(self, pid: int) -> None:
        for procs in self.procs_files:
            _write(procs, str(pid))

    def peak_bytes(self) -> int | None:
        if self.version == 2:
            return _read_int(self.dirs[0] / "memory.peak")
        return _read_int(self._v1("memory") / "memory.max_usage_in_bytes")

    def oom_killed(self) -> bool:
        if self.version == 2:
            events = _read_keyed(self.dirs[0] / "memory.events")
            return events.get("oom_kill", 0) > 0
        control = _read_keyed(self._v1("memory") / "memory.oom_control")
        return control.get("oom_kill", 0) > 0

    def cpu_seconds(self) -> float | None:
        if self.version == 2:
            usage = _read_keyed(self.dirs[0] / "cpu.stat").get("usage_usec")
            return usage / 1e6 if usage is not None else None
        try:
            nanoseconds = _read_int(self._v1("cpuacct") / "cpuacct.usage")
        except KeyError:
            return None
        return nanoseconds / 1e9 if nanoseconds is not None else None

    def pids(self) -> list[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(pid) for pid in procs.read_text().split())
        return sorted(found)

    def kill_all(self, *, deadline_s: float = 2.0) -> None:
        """SIGKILL everything inside, again and again until empty (forks race the kill)."""
        if self.version == 2 and _write(self.dirs[0] / "cgroup.kill", "1", check=False):
            _wait_empty(self, deadline_s)
            return
        deadline = time.monotonic() + deadline_s
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def destroy(self, *, within_s: float = DESTROY_WITHIN_S) -> None:
        """Kill what is left and remove the directories (idempotent). Waits until every
        process has left: a big kernel on a loaded host takes a while to die, and its slot
        uid must not be lent again before."""
        self.kill_all(deadline_s=within_s)
        deadline = time.monotonic() + within_s
        for directory in self.dirs:
            _rmdir_when_empty(directory, deadline)


def v1_shares(weight: int) -> int:
    """cgroup v1 cpu.shares for a v2 cpu.weight (1..10000, default 100 = 1024 shares)."""
    return max(2, weight * 1024 // DEFAULT_CPU_WEIGHT)


def _wait_empty(group: Cgroup, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while group.pids() and time.monotonic() < deadline:
        time.sleep(0.005)


def _rmdir_when_empty(directory: Path, deadline: float) -> None:
    # A killed process leaves its cgroup a moment after it is gone from cgroup.procs.
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.005)


def exists(name: str) -> bool:
    """Whether a per-kernel cgroup `name` is there, in any controller."""
    return any((base / name).is_dir() for base in base_dirs())


def remove_stale(*, names: list[str] | None = None) -> list[str]:
    """Kill and remove per-kernel cgroups left by a killed worker (all, or those named)."""
    removed: list[str] = []
    version = cgroup_version()
    if version is None or os.geteuid() != 0:
        return removed
    by_name: dict[str, list[Path]] = {}
    for base in base_dirs():
        # Those named are looked up, not searched for among every live kernel's cgroup (each
        # kernel's start asks for its own name: a stat, where a listing grew with the load).
        children = (base / name for name in names) if names is not None else _children(base)
        for child in children:
            if child.is_dir():
                by_name.setdefault(child.name, []).append(child)
    for name, dirs in by_name.items():
        Cgroup(version=version, dirs=dirs).destroy()
        removed.append(name)
    return removed


def _children(base: Path) -> list[Path]:
    return list(base.iterdir()) if base.is_dir() else []


def _write(path: Path, value: str, *, check: bool = True) -> bool:
    try:
        path.write_text(value)
    except OSError:
        if check:
            raise
        return False
    return True


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_keyed(path: Path) -> dict[str, int]:
    values = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                values[key] = int(value)
    return values
