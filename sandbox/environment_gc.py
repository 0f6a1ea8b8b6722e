"""Collecting course runtimes no course uses any more.

A course runtime (sandbox.environments) is removed when it is not among the runtimes to
keep (the caller names them: the current requirement set of every course), has not been
used for `grace_s` (its lock file's mtime: touched by every build, every kernel start and
every kernel end), and nobody holds it: an exclusive lock taken without waiting fails while
a kernel or zygote of it lives or while it is being built. It is first renamed out of the
way (a kernel starting meanwhile finds no runtime rather than half of one), then deleted.
Unfinished builds and removals left by a killed process are deleted after the grace period.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.environments import STAMP_NAME, environments_root, lock_file

KEY = re.compile(r"[0-9a-f]{64}")
LEFTOVERS = (".building-", ".removing-")


@dataclass
class Collected:
    removed: list[str] = field(default_factory=list)  # keys of the runtimes removed
    in_use: list[str] = field(default_factory=list)  # unreferenced, but held: kept
    recent: list[str] = field(default_factory=list)  # unreferenced, used within the grace
    freed_bytes: int = 0


def disk_usage(path: Path) -> int:
    """Bytes of the files under `path` (each hard link counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def last_used(runtime_dir: Path) -> float:
    lock = lock_file(runtime_dir)
    stamp = runtime_dir / STAMP_NAME
    times = [path.stat().st_mtime for path in (lock, stamp, runtime_dir) if path.exists()]
    return max(times)


def collect_environments(
    *, keep: Collection[str], grace_s: float, now: float | None = None, dry_run: bool = False
) -> Collected:
    """Remove the course runtimes of this host that are not in `keep` (keys), unused for
    `grace_s` seconds before `now` (epoch seconds) and held by nobody."""
    now = time.time() if now is None else now
    collected = Collected()
    root = environments_root()
    if not root.is_dir():
        return collected
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(LEFTOVERS) and now - entry.lstat().st_mtime >= grace_s:
            collected.freed_bytes += disk_usage(entry) if dry_run else _delete(entry)
        elif not KEY.fullmatch(entry.name) or entry.name in keep or not entry.is_dir():
            continue
        elif now - last_used(entry) < grace_s:
            collected.recent.append(entry.name)
        elif _remove_unless_held(entry, collected, dry_run=dry_run):
            collected.removed.append(entry.name)
        else:
            collected.in_use.append(entry.name)
    return collected


def _remove_unless_held(runtime_dir: Path, collected: Collected, *, dry_run: bool) -> bool:
    lock = lock_file(runtime_dir)
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if dry_run:
            collected.freed_bytes += disk_usage(runtime_dir)
            return True
        doomed = runtime_dir.with_name(f".removing-{runtime_dir.name}")
        runtime_dir.rename(doomed)
        # A kernel waiting for this lock finds no runtime once it has it (RuntimeHold).
        lock.unlink()
    finally:
        os.close(fd)
    collected.freed_bytes += _delete(doomed)
    return True


def _delete(path: Path) -> int:
    size = disk_usage(path)
    shutil.rmtree(path, ignore_errors=True)
    return size - (disk_usage(path) if path.exists() else 0)
