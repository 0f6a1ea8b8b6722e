"""Slot uids: each live kernel runs under its own unprivileged uid, leased with a lock file.

A lock file per uid (flock) makes leases safe across worker processes on one host, and a
crashed worker's leases free themselves when the kernel closes its files. A uid whose lock
can be taken has no living owner, so any process still running under it is an orphan.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from sandbox import cgroups, mounts
from sandbox.limits import SandboxInfraError


def uid_base() -> int:
    return int(os.environ.get("SANDBOX_UID_BASE", "61000"))


def uid_count() -> int:
    """Slot uids on this host: one per live kernel, grading and interactive together, for
    every worker process on the host (a class of hundreds needs hundreds)."""
    return int(os.environ.get("SANDBOX_UID_COUNT", "1024"))


def run_base() -> Path:
    """Host directory holding each kernel's private directory (short: ipc paths are <108)."""
    configured = os.environ.get("SANDBOX_RUN_DIR")
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/run/sandbox")
    return Path(f"/tmp/sandbox-{os.geteuid()}")  # noqa: S108 - insecure local mode only


def prepare_run_base() -> Path:
    base = run_base()
    (base / "locks").mkdir(parents=True, exist_ok=True)
    # Slot uids traverse the base to reach their own directory, but cannot list it.
    base.chmod(0o711)
    (base / "locks").chmod(0o700)
    if os.geteuid() == 0 and not _shared_done:
        mounts.ensure_shared_mount(base)
        _shared_done.append(True)
    return base


_shared_done: list[bool] = []


# Slot uids this process has leased for a kernel at some point (tests check what they leave
# behind).
USED_HERE: set[int] = set()


def cgroup_name(uid: int) -> str:
    return f"uid{uid}"


@dataclass
class UidLease:
    uid: int
    lock_fd: int

    def release(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1


def lease_uid() -> UidLease:
    """Take the first free slot uid for a kernel; raise SandboxInfraError when all are taken."""
    lease = _lease_first_free()
    USED_HERE.add(lease.uid)
    return lease


def _lease_first_free() -> UidLease:
    locks = prepare_run_base() / "locks"
    for uid in range(uid_base(), uid_base() + uid_count()):
        lease = _try_lease(uid, locks=locks)
        if lease is not None:
            return lease
    raise SandboxInfraError(
        f"all {uid_count()} sandbox slot uids are in use (raise SANDBOX_UID_COUNT)"
    )


def _try_lease(uid: int, *, locks: Path | None = None) -> UidLease | None:
    path = (locks or prepare_run_base() / "locks") / f"uid-{uid}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return UidLease(uid=uid, lock_fd=fd)


def clean_orphans() -> list[int]:
    """Kill processes, cgroups and directories of slot uids that no live worker holds.

    A uid is leased while it is cleaned, so no worker starts a kernel under it meanwhile;
    one at a time, so that workers starting kernels meanwhile find the others free.
    Returns the uids that had something to clean.
    """
    if os.geteuid() != 0:
        return []
    cleaned = []
    for uid in _uids_with_leftovers():
        lease = _try_lease(uid)
        if lease is None:
            continue  # a live kernel's
        try:
            if _clean(uid):
                cleaned.append(uid)
        finally:
            lease.release()
    return cleaned


def _uids_with_leftovers() -> list[int]:
    slot_uids = set(range(uid_base(), uid_base() + uid_count()))
    found = {uid for uid, _ in _processes_of(slot_uids)}
    found |= {uid for uid in slot_uids if cgroups.exists(cgroup_name(uid))}
    found |= {uid for uid, _ in _kernel_dirs(slot_uids)}
    return sorted(found)


def _clean(uid: int) -> bool:
    """Everything left under `uid`, which the caller holds the lease of."""
    killed = False
    for _, pid in _processes_of({uid}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed = True
    removed = bool(cgroups.remove_stale(names=[cgroup_name(uid)]))
    dirs = [directory for _, directory in _kernel_dirs({uid})]
    for directory in dirs:
        mounts.unmount(directory)
        shutil.rmtree(directory, ignore_errors=True)
    return killed or removed or bool(dirs)


def _kernel_dirs(uids: set[int]) -> list[tuple[int, Path]]:
    base = run_base()
    if not base.is_dir():
        return []
    found = []
    for child in base.iterdir():
        with contextlib.suppress(OSError):
            owner = child.stat().st_uid
            if child.name.startswith("k") and child.is_dir() and owner in uids:
                found.append((owner, child))
    return found


def _processes_of(uids: set[int]) -> list[tuple[int, int]]:
    """(uid, pid) of the living (not zombie) processes running as one of `uids`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        # Not the directory's owner: a process that changed uid without exec is shown as root.
        with contextlib.suppress(OSError, ValueError, IndexError):
            status = (entry / "status").read_text()
            uid = int(status.split("\nUid:", 1)[1].split()[0])
            zombie = status.split("\nState:", 1)[1].split()[0] == "Z"
            if uid in uids and not zombie:
                found.append((uid, int(entry.name)))
    return found
