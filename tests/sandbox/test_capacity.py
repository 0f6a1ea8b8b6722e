"""How many kernels a host holds: memory decides, and the worker's own limits (open files,
zmq sockets) do not cap it below that."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox import cgroups, memory_available_mib, sessions_that_fit
from tests.support.worker import ROOT


def test_sessions_that_fit_divides_what_is_left_after_the_reserve() -> None:
    # a 24 GiB host with 23 GiB available holds hundreds of 64 MiB sessions
    assert sessions_that_fit(available_mib=23 * 1024, session_mib=64, reserve_mib=1024) == 352
    assert sessions_that_fit(available_mib=500, session_mib=64, reserve_mib=1024) == 0
    with pytest.raises(ValueError):
        sessions_that_fit(available_mib=1000, session_mib=0, reserve_mib=0)


def test_memory_available_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  25000000 kB\nMemFree: 1000 kB\nMemAvailable:   2097152 kB\n")
    assert memory_available_mib(meminfo=meminfo) == 2048.0


def test_a_worker_process_can_hold_the_descriptors_of_hundreds_of_kernels() -> None:
    # given a fresh process that raised its open-files limit as a holder does
    script = textwrap.dedent(
        """
        import zmq
        from sandbox import raise_open_files_limit
        from sandbox.client import shared_context
        raise_open_files_limit(wanted=8192)
        context = shared_context()
        # when it opens the sockets of 300 kernels (five each, as the client does)
        sockets = [context.socket(zmq.DEALER) for _ in range(300 * 5)]
        # and, its descriptors now past 1024 (select()'s limit), starts a kernel and uses it
        from sandbox import Limits, launch
        kernel = launch.start_kernel(limits=Limits(), mode="zygote")
        assert kernel.channels.sockets["shell"].fileno() > 1024
        assert kernel.execute("1 + 1").status == "ok" and kernel.is_alive()
        kernel.shutdown(wait=True)
        print(len(sockets))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    # then neither zmq's default of 1023 sockets per context nor select() stopped it
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1500"


def test_cgroup_v2_gets_the_same_cpu_weight_as_v1_shares(tmp_path: Path) -> None:
    # given a v2 hierarchy's `sandbox` folder (here a plain folder: this host runs v1)
    group = cgroups.Cgroup(version=2, dirs=[tmp_path / "worker" / "sandbox" / "uid61000"])
    (tmp_path / "worker").mkdir()
    # when a kernel's cgroup is made with weight 50
    group._make(memory_bytes=256 * 1024 * 1024, pids_max=64, cpu_weight=50)
    # then v2 enables the cpu controller for kernels and writes the weight v1 would give
    sandbox_dir = tmp_path / "worker" / "sandbox"
    assert (sandbox_dir / "cgroup.subtree_control").read_text() == "+cpu"
    assert (sandbox_dir / "uid61000" / "cpu.weight").read_text() == "50"
    assert group.cpu_weight() == 50
    assert cgroups.v1_shares(50) == 512 and cgroups.v1_shares(100) == 1024
