"""How many kernels a host holds: memory decides, and the worker's own limits (open files,
zmq sockets) do not cap it below that."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox import memory_available_mib, sessions_that_fit
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


def test_a_worker_process_can_hold_the_sockets_of_hundreds_of_kernels() -> None:
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
        print(len(sockets))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    # then zmq's default of 1023 sockets per context did not stop it
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1500"
