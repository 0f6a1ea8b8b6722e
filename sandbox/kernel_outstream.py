"""Inside the kernel: stdout and stderr sent as messages of at most CHUNK_CHARS characters.

Installed into the kernel runtime by `python -m sandbox build-runtime` and named by the
kernel's command line (`--IPKernelApp.outstream_class`). ipykernel sends whatever a cell
printed during its 0.2-s flush interval as ONE message: on a fast machine a print loop
makes messages of megabytes, larger than the worker will receive (its receive-size limit
bounds its memory), and the head of the output would be lost with the rest. In pieces,
the first ones arrive and the worker's output cap cuts the run where the budget ends.

ipykernel flushes both streams six times per execute request, each time handing a flush
to the IO thread and waiting for it (two thread switches, about a third of the kernel's
CPU for a short cell); a stream with nothing written since its last flush returns at once.

Learner code can replace sys.stdout; that only hurts the learner's own output: the
worker's limits do not depend on this class.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from ipykernel.iostream import OutStream

# At most 4 bytes of UTF-8 per character: 64 KiB per message, far below the receive limit.
CHUNK_CHARS = 16 * 1024
# Messages one flush may queue. They pass through the IO thread's own event pipe, and when
# that pipe's queue (zmq's high-water mark, 1000) is full the IO thread blocks for ever:
# the rest waits for the next flush (0.2 s later), so an output of any size keeps flowing.
CHUNKS_PER_FLUSH = 128


class ChunkedOutStream(OutStream):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # [parent, text, sent so far], oldest first; only the IO thread touches it.
        self._backlog: deque[list[Any]] = deque()

    def flush(self) -> None:
        # Nothing to send: no wait for the IO thread. Whatever it is sending now still goes
        # out before anything queued after this call (it runs its queue in order), and a
        # client waits for the idle status, which comes last, not for this flush.
        with self._buffer_lock:
            pending = bool(self._buffers)
        if pending or self._backlog:
            super().flush()

    def _flush_buffers(self) -> Iterator[tuple[dict[str, Any], str]]:
        for parent, data in super()._flush_buffers():
            if data:
                self._backlog.append([parent, data, 0])
        for _ in range(CHUNKS_PER_FLUSH):
            if not self._backlog:
                return
            entry = self._backlog[0]
            parent, data, start = entry
            entry[2] = start + CHUNK_CHARS
            if entry[2] >= len(data):
                self._backlog.popleft()
            yield parent, data[start : start + CHUNK_CHARS]
        if self._backlog:
            self._schedule_flush()
