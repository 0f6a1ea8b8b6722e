"""What a sandboxed kernel holds on the host while it lives: its private directory (a small
tmpfs owned by its slot uid, with the connection file in it) and its cgroup. Both ways of
starting a sandboxed kernel (sandbox.launch: bubblewrap; sandbox.zygote: a fork) make and
remove them here."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from sandbox import cgroups, mounts, slots
from sandbox.cgroups import Cgroup
from sandbox.isolation import MIB
from sandbox.limits import Limits
from sandbox.slots import UidLease

CONNECTION_FILE = "connection.json"


def make_host_dir(lease: UidLease, limits: Limits) -> Path:
    """The kernel's private directory: a small tmpfs owned by its slot uid.

    Directories a killed worker left under this uid go first: the lease makes them ours,
    and no new kernel should share a uid with what an earlier one left behind.
    """
    base = slots.prepare_run_base()
    for stale in base.glob(f"k{lease.uid}-*"):
        remove_host_dir(stale)
    host_dir = base / f"k{lease.uid}-{secrets.token_hex(4)}"
    host_dir.mkdir(mode=0o700)
    mounts.mount_private_tmpfs(host_dir, size_bytes=limits.tmpfs_mb * MIB, uid=lease.uid)
    return host_dir


def write_connection_file(*, host_dir: Path, info: dict[str, Any], owner: int | None) -> None:
    path = host_dir / CONNECTION_FILE
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    if owner is not None:
        os.chown(path, owner, owner)


def new_cgroup(lease: UidLease, limits: Limits) -> Cgroup | None:
    name = slots.cgroup_name(lease.uid)
    cgroups.remove_stale(names=[name])
    return Cgroup.create(
        name=name,
        memory_bytes=limits.memory_mb * MIB,
        pids_max=limits.processes,
        cpu_weight=limits.cpu_weight,
    )


def remove_host_dir(host_dir: Path) -> None:
    mounts.unmount(host_dir)
    shutil.rmtree(host_dir, ignore_errors=True)
