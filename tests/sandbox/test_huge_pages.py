"""Shared memory in huge pages (sandbox.huge_pages): what is collapsed, and that the trusted
fork server and the zygote of grading kernels really hold huge pages."""

from __future__ import annotations

from pathlib import Path

from sandbox import Limits, huge_pages, launch, zygote
from sandbox.trusted.forkserver import ForkServer

MIB = 1024 * 1024
MAPS = """\
55d0c0000000-55d0c0600000 rw-p 00000000 00:00 0                          [heap]
7f0000100000-7f0000900000 rw-p 00000000 00:00 0
7f0001000000-7f0001400000 r--p 00000000 08:01 123                        /usr/lib/libc.so.6
7f0002000000-7f0002400000 rw-p 00000000 08:01 123                        /usr/lib/libc.so.6
7f0003000000-7f0003400000 rw-s 00000000 00:05 77                         /dev/zero (deleted)
7f0004000000-7f0004100000 rw-p 00000000 00:00 0
7f0005000000-7f0005400000 ---p 00000000 00:00 0
7ffd00000000-7ffd00400000 rw-p 00000000 00:00 0                          [stack]
"""


def anon_huge_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1]) * 1024
    return 0


def test_only_whole_huge_pages_of_private_anonymous_memory_are_collapsed() -> None:
    ranges = list(huge_pages.anonymous_ranges(MAPS))
    # the heap whole; an unnamed mapping trimmed to the huge pages inside it; no file, no
    # shared or inaccessible mapping, no stack, nothing smaller than a huge page
    assert ranges == [(0x55D0C0000000, 0x55D0C0600000), (0x7F0000200000, 0x7F0000800000)]


def test_the_trusted_fork_server_holds_its_modules_in_huge_pages() -> None:
    server = ForkServer()
    try:
        # started, its modules imported (no spare forked in the background)
        connection, _pid = server._spawn_retrying()
        connection.close()
        assert server._proc is not None
        # numpy, pandas, scikit-learn...: well over 150 MiB, most of it in whole huge pages
        assert anon_huge_bytes(server._proc.pid) >= 32 * MIB
    finally:
        server.close()


def test_the_zygote_of_grading_kernels_holds_its_modules_in_huge_pages_and_grades_as_nbgrader():
    grading = launch.start_kernel(limits=Limits(), mode="zygote", grading=True)
    live = launch.start_kernel(limits=Limits(), mode="zygote")
    try:
        held = anon_huge_bytes(zygote.get_zygote(grading=True).pid)
        said = [
            k.execute("import os; os.environ.get('NBGRADER_EXECUTION', 'unset')", timeout=30)
            for k in (grading, live)
        ]
    finally:
        grading.shutdown(wait=True)
        live.shutdown(wait=True)

    assert held >= 32 * MIB  # numpy, pandas, matplotlib...: most of it in whole huge pages
    # its kernels start as nbgrader's autograde runs them; a live session's do not
    assert [s.outputs[0]["data"]["text/plain"] for s in said] == ["'autograde'", "'unset'"]
    assert grading.environment["NBGRADER_EXECUTION"] == "autograde"
    assert "NBGRADER_EXECUTION" not in live.environment
