"""Host-side mounts: each kernel's shared directory is its own small tmpfs.

The directory is bound writable into the sandbox (the kernel creates its sockets there),
so without a size-limited filesystem of its own a learner could fill the host's disk.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_SHARED = 4096, 1 << 20
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def mount_private_tmpfs(path: Path, *, size_bytes: int, uid: int) -> None:
    options = f"size={size_bytes},nr_inodes=4096,mode=0700,uid={uid},gid={uid}"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if _libc.mount(b"tmpfs", bytes(path), b"tmpfs", flags, options.encode()) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mounting a tmpfs on {path}: {os.strerror(error)}")


def ensure_shared_mount(path: Path) -> None:
    """Make `path` a shared mount point, so the per-kernel tmpfs mounted under it later
    propagate into the zygote's mount namespace (which binds `path` as a slave)."""
    if not is_mount_point(path) and _libc.mount(bytes(path), bytes(path), None, MS_BIND, None):
        error = ctypes.get_errno()
        raise OSError(error, f"bind-mounting {path}: {os.strerror(error)}")
    if _libc.mount(None, bytes(path), None, MS_SHARED, None) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"making {path} a shared mount: {os.strerror(error)}")


def unmount(path: Path) -> None:
    """Detach the mount at `path` if there is one (idempotent)."""
    if is_mount_point(path):
        _libc.umount2(bytes(path), MNT_DETACH)


def is_mount_point(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)
