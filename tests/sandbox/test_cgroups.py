"""Per-kernel cgroups (sandbox.cgroups): a killed worker's leftovers are removed by name."""

from __future__ import annotations

from sandbox import cgroups

MIB = 1024 * 1024


def test_stale_cgroups_are_removed_by_name_and_the_others_stay() -> None:
    names = ["test-stale-a", "test-stale-b"]
    groups = [cgroups.Cgroup.create(name=n, memory_bytes=64 * MIB, pids_max=8) for n in names]
    try:
        assert all(group is not None for group in groups)
        # a name with no cgroup is no error; the one named goes; its neighbour stays
        assert cgroups.remove_stale(names=["test-stale-a", "test-stale-none"]) == ["test-stale-a"]
        assert not cgroups.exists("test-stale-a")
        assert cgroups.exists("test-stale-b")
    finally:
        for group in groups:
            if group is not None:
                group.destroy()
    assert not cgroups.exists("test-stale-b")
