"""How many live kernels this host can hold: memory decides, not a constant.

A forked idle kernel costs about 17 MiB of its own; what it may grow to while a learner
works is the per-session cost the caller chooses. The memory left is the host's
MemAvailable, or less when this process's memory cgroup has a lower limit (kernels' cgroups
sit below it, so they count against that limit too).
"""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path

from sandbox import cgroups

MIB = 1024 * 1024
# Beyond this a cgroup's "limit" means unlimited (v1 writes 2^63 rounded to pages).
UNLIMITED = 1 << 60


def memory_available_mib(*, meminfo: Path = Path("/proc/meminfo")) -> float:
    """Memory that new kernels can still use, in MiB."""
    available = _meminfo_kib(meminfo, "MemAvailable") * 1024
    room = _cgroup_room_bytes()
    if room is not None:
        available = min(available, room)
    return max(0.0, available / MIB)


def sessions_that_fit(*, available_mib: float, session_mib: int, reserve_mib: int) -> int:
    """How many more sessions of `session_mib` fit in `available_mib`, keeping
    `reserve_mib` for the worker, the web and the page cache."""
    if session_mib < 1:
        raise ValueError("session_mib must be at least 1")
    return max(0, int((available_mib - reserve_mib) // session_mib))


def raise_open_files_limit(*, wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (at most the hard
    limit): each live kernel holds about ten descriptors in the worker (its zmq sockets,
    their mailboxes, a pidfd, its uid lock). Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def _meminfo_kib(path: Path, field: str) -> int:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise ValueError(f"{field} is not in {path}")


def _cgroup_room_bytes() -> int | None:
    """Limit minus usage of this process's memory cgroup; None when unlimited or unknown."""
    version = cgroups.cgroup_version()
    with contextlib.suppress(OSError, ValueError):
        if version == 2:
            own = cgroups.ROOT / cgroups.own_path("")
            limit_text = (own / "memory.max").read_text().strip()
            if limit_text == "max":
                return None
            limit, usage = int(limit_text), int((own / "memory.current").read_text())
        elif version == 1:
            own = cgroups.ROOT / "memory" / cgroups.own_path("memory")
            limit = int((own / "memory.limit_in_bytes").read_text())
            usage = int((own / "memory.usage_in_bytes").read_text())
        else:
            return None
        return None if limit >= UNLIMITED else max(0, limit - usage)
    return None
