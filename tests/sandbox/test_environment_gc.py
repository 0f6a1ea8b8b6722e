"""Course runtimes no course needs are removed once unused for the grace period, never
while a kernel of them lives or a build of them runs. The on-disk layout is written here
(a folder per key with its stamp): collection reads nothing else."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from sandbox import SandboxInfraError, collect_environments
from sandbox.environments import STAMP_NAME, RuntimeHold, build_lock, lock_file

DAY = 24 * 3600.0
GRACE = 7 * DAY


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SANDBOX_COURSE_RUNTIMES", str(tmp_path))
    return tmp_path


def fake_runtime(root: Path, name: str, *, size: int = 100_000, age_s: float = 0.0) -> Path:
    """A built runtime as sandbox.environments leaves it, last used `age_s` ago."""
    folder = root / hashlib.sha256(name.encode()).hexdigest()
    site = folder / "lib" / "python3.11" / "site-packages" / name
    site.mkdir(parents=True)
    (site / "__init__.py").write_bytes(b"x" * size)
    (folder / STAMP_NAME).write_text('{"pins": []}\n')
    then = time.time() - age_s
    for path in (folder / STAMP_NAME, folder):
        os.utime(path, (then, then))
    return folder


def test_an_unneeded_runtime_unused_past_the_grace_is_removed_and_its_size_reported(
    root: Path,
) -> None:
    # given
    needed = fake_runtime(root, "needed", age_s=30 * DAY)
    unneeded = fake_runtime(root, "unneeded", age_s=8 * DAY)
    recent = fake_runtime(root, "recent", age_s=6 * DAY)

    # when
    collected = collect_environments(keep={needed.name}, grace_s=GRACE)

    # then
    assert collected.removed == [unneeded.name]
    assert not unneeded.exists() and needed.is_dir() and recent.is_dir()
    assert collected.recent == [recent.name]
    assert collected.freed_bytes >= 100_000
    assert not lock_file(unneeded).exists()
    assert {p.name for p in root.iterdir()} == {needed.name, recent.name, ".locks"}


def test_a_dry_run_reports_what_it_would_free_and_removes_nothing(root: Path) -> None:
    unneeded = fake_runtime(root, "unneeded", age_s=8 * DAY)
    left = root / ".building-0123456789ab-x1"
    left.mkdir()
    (left / "big").write_bytes(b"x" * 50_000)
    os.utime(left, (time.time() - 8 * DAY,) * 2)

    collected = collect_environments(keep=set(), grace_s=GRACE, dry_run=True)

    assert collected.removed == [unneeded.name] and collected.freed_bytes >= 150_000
    assert (unneeded / STAMP_NAME).is_file() and (left / "big").is_file()


def test_a_runtime_held_by_a_kernel_is_kept_and_its_release_counts_as_a_use(root: Path) -> None:
    # given: a kernel of a runtime no course needs any more, started long ago
    unneeded = fake_runtime(root, "unneeded", age_s=30 * DAY)
    hold = RuntimeHold(unneeded)
    later = time.time() + 30 * DAY

    # when / then: kept while the kernel lives
    collected = collect_environments(keep=set(), grace_s=GRACE, now=later)
    assert collected.in_use == [unneeded.name] and collected.removed == []
    assert (unneeded / STAMP_NAME).is_file()

    # the kernel ends: the grace period runs from then
    hold.release()
    soon = collect_environments(keep=set(), grace_s=GRACE, now=time.time() + 6 * DAY)
    assert soon.recent == [unneeded.name] and soon.removed == []
    collected = collect_environments(keep=set(), grace_s=GRACE, now=time.time() + GRACE + 60)
    assert collected.removed == [unneeded.name]


def test_a_runtime_being_built_is_kept(root: Path) -> None:
    unneeded = fake_runtime(root, "unneeded", age_s=30 * DAY)
    with build_lock(unneeded):
        collected = collect_environments(keep=set(), grace_s=GRACE, now=time.time() + 30 * DAY)
    assert collected.in_use == [unneeded.name]
    assert (unneeded / STAMP_NAME).is_file()


def test_a_kernel_cannot_start_in_a_runtime_once_it_is_removed(root: Path) -> None:
    unneeded = fake_runtime(root, "unneeded", age_s=30 * DAY)
    assert collect_environments(keep=set(), grace_s=GRACE).removed == [unneeded.name]
    with pytest.raises(SandboxInfraError, match="is not built"):
        RuntimeHold(unneeded)


def test_what_a_killed_build_left_is_removed_after_the_grace(root: Path) -> None:
    old = root / ".building-0123456789ab-x1"
    (old / "lib").mkdir(parents=True)
    (old / "lib" / "big").write_bytes(b"x" * 50_000)
    fresh = root / ".building-0123456789ab-x2"
    fresh.mkdir()
    os.utime(old, (time.time() - 8 * DAY,) * 2)

    collected = collect_environments(keep=set(), grace_s=GRACE)

    assert not old.exists() and fresh.is_dir()
    assert collected.freed_bytes >= 50_000
