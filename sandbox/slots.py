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
    return int(os.environ.get("SANDBOX_UID_COUNT", "64"))


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
        fd = os.open(locks / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidLease(uid=uid, lock_fd=fd)
    raise SandboxInfraError(
        f"all {uid_count()} sandbox slot uids are in use (raise SANDBOX_UID_COUNT)"
    )


def clean_orphans() -> list[int]:
    """Kill processes, cgroups and directories of slot uids that no live worker holds.

    The free uids stay leased while they are cleaned, so no worker starts a kernel under
    one of them meanwhile. Returns the uids that had something to clean.
    """
    if os.geteuid() != 0:
        return []
    leases = _lease_all_free()
    try:
        return _clean(free={lease.uid for lease in leases})
    finally:
        for lease in leases:
            lease.release()


def _clean(*, free: set[int]) -> list[int]:
    cleaned = set(_kill_processes_of(free))
    names = {cgroup_name(uid): uid for uid in free}
    for name in cgroups.remove_stale(names=list(names)):
        cleaned.add(names[name])
    base = run_base()
    if base.is_dir():
        for child in base.iterdir():
            owner = child.stat().st_uid
            if child.name.startswith("k") and child.is_dir() and owner in free:
                mounts.unmount(child)
                shutil.rmtree(child, ignore_errors=True)
                cleaned.add(owner)
    return sorted(cleaned)


def _lease_all_free() -> list[UidLease]:
    leases = []
    try:
        while True:
            leases.append(_lease_first_free())  # to clean, not to run: not in USED_HERE
    except SandboxInfraError:
        pass
    return leases


def _kill_processes_of(uids: set[int]) -> list[int]:
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
                found.append(uid)
                os.kill(int(entry.name), signal.SIGKILL)
    return found
