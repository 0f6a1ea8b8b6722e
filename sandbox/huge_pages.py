"""Memory in huge pages for the processes that fork graders: cheaper forks and exits.

Used by the trusted fork server and by the zygote of grading kernels (sandbox.zygote; it
imports this file bound beside it, so the standard library only). The trusted fork server
holds about 150 MiB of imported modules (numpy, pandas, scipy, scikit-learn...) that each
grader it forks shares copy-on-write. Fork copies one page-table entry per 4-KiB page of
that memory, and exit drops each again. In 2-MiB pages, fork copies one entry per 2 MiB and
exit drops one. A page a grader writes is still copied 4 KiB at a time (the kernel splits
that huge mapping in the child first), so a child's own memory is unchanged.

Measured on the 2-core host, machine CPU per trusted process forked and ended, 3 rounds of
150 each way: 11.3 -> 9.0 ms. Collapsing costs the fork server about 210 ms of CPU once,
when it starts (90 MiB): paid back after about 90 gradings.

In the zygote of grading kernels, a wine grading's kernel cycle cost less too (68.2 -> 64.9
ms), and the zygote's fork CPU per grading fell from 7.5-8.3 to 5.3 ms. Not in the zygote of
live sessions: it slowed the capacity bench's 50 concurrent live cells. Four runs with it
gave an active-cells p95 of 344, 353, 376 and 402 ms; seven without it, the same morning:
six from 256 to 332 ms, one 371 ms (the last four alternated, on a quiet host). Hundreds of
long-lived kernels share the zygote's pages, and each splits the huge mappings it writes
to; why that costs live cells so much was not established.

MADV_COLLAPSE (Linux 6.1) asks for it at once, whatever the host's transparent huge page
setting, and changes nothing else: later allocations get the host's usual pages. Where the
kernel cannot (older, or memory too fragmented), nothing changes.
"""

import ctypes
from collections.abc import Iterator

MADV_COLLAPSE = 25
HUGE_PAGE = 2 * 1024 * 1024

libc = ctypes.CDLL(None, use_errno=True)


def anonymous_ranges(maps: str) -> Iterator[tuple[int, int]]:
    """The huge-page-aligned parts of the private writable anonymous memory (the heap and
    unnamed mappings; no stack, no file) listed in `maps`, the text of /proc/<pid>/maps."""
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) < 5 or (len(fields) > 5 and fields[5] != "[heap]"):
            continue
        if fields[1][:2] != "rw" or fields[1][3:4] != "p":
            continue
        low, high = (int(address, 16) for address in fields[0].split("-"))
        start = -(-low // HUGE_PAGE) * HUGE_PAGE
        end = high // HUGE_PAGE * HUGE_PAGE
        if end > start:
            yield start, end


def collapse(maps: str) -> None:
    """Back this process's anonymous memory with huge pages where the kernel can (a range
    it cannot do stays as it is). `maps` is this process's /proc/self/maps."""
    for start, end in anonymous_ranges(maps):
        libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), MADV_COLLAPSE)
