"""One zygote per course runtime in use: started on the first kernel of that runtime,
stopped once idle, and a bounded number of them.

A course runtime's zygote (sandbox.zygote.Zygote with a runtime_dir) isolates its kernels
exactly as the default one does; it runs the kernel runtime's interpreter and preloads only
what the course does not replace (zygote_preload.py). Each costs the memory of an
interpreter with the scientific stack imported, so a worker keeps at most
`SANDBOX_COURSE_ZYGOTES` of them: starting one more retires the least recently used. A
zygote with no new kernel for `SANDBOX_COURSE_ZYGOTE_IDLE_S` is retired too. A retired
zygote is stopped once its last kernel is gone (stopping it would kill them); it serves
again if its runtime is asked for before then. While it runs, it holds its runtime
(sandbox.environment_gc removes none held).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox import isolation
from sandbox.environments import RuntimeHold
from sandbox.zygote import Zygote, max_forks

logger = logging.getLogger(__name__)
SWEEP_S = 30.0


def max_zygotes() -> int:
    return int(os.environ.get("SANDBOX_COURSE_ZYGOTES", "4"))


def idle_s() -> float:
    return float(os.environ.get("SANDBOX_COURSE_ZYGOTE_IDLE_S", "600"))


@dataclass
class Entry:
    zygote: Zygote
    hold: RuntimeHold
    last_used: float

    def usable(self) -> bool:
        return (
            self.zygote.is_alive()
            and self.zygote.forks < max_forks()
            and self.zygote.gateway_dir == isolation.gateway_dir()
        )

    def stop(self) -> None:
        try:
            self.zygote.stop()
        finally:
            self.hold.release()


def start_entry(runtime_dir: Path, now: float) -> Entry:
    isolation.preflight()
    hold = RuntimeHold(runtime_dir)
    zygote = Zygote(runtime_dir)
    try:
        zygote.start()
    except BaseException:
        zygote.stop()
        hold.release()
        raise
    logger.info("sandbox: started the zygote of course runtime %s", runtime_dir.name[:12])
    return Entry(zygote=zygote, hold=hold, last_used=now)


class CourseZygotes:
    """This process's course-runtime zygotes. A test may give its own clock."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        start: Callable[[Path, float], Entry] = start_entry,
    ) -> None:
        self.clock = clock
        self._start = start
        self.active: OrderedDict[Path, Entry] = OrderedDict()  # least recently used first
        self.retired: list[tuple[Path, Entry]] = []
        self.lock = threading.Lock()
        self._sweeper: threading.Thread | None = None

    def zygote_for(self, runtime_dir: Path) -> Zygote:
        """The zygote of `runtime_dir`, started now if there is none."""
        runtime_dir = runtime_dir.absolute()
        with self.lock:
            self._sweep_locked()
            entry = self.active.get(runtime_dir) or self._revive(runtime_dir)
            if entry is not None and not entry.usable():
                self._retire(runtime_dir, entry)
                entry = None
            if entry is None:
                entry = self._start(runtime_dir, self.clock())
            entry.last_used = self.clock()
            self.active[runtime_dir] = entry
            self.active.move_to_end(runtime_dir)
            while len(self.active) > max(1, max_zygotes()):
                oldest = next(iter(self.active))
                self._retire(oldest, self.active[oldest])
        self._start_sweeper()
        return entry.zygote

    def _revive(self, runtime_dir: Path) -> Entry | None:
        for index, (path, entry) in enumerate(self.retired):
            if path == runtime_dir and entry.usable():
                del self.retired[index]
                return entry
        return None

    def _retire(self, runtime_dir: Path, entry: Entry) -> None:
        self.active.pop(runtime_dir, None)
        self.retired.append((runtime_dir, entry))

    def sweep(self) -> None:
        """Retire idle zygotes; stop retired ones whose kernels are all gone."""
        with self.lock:
            self._sweep_locked()

    def _sweep_locked(self) -> None:
        horizon = self.clock() - idle_s()
        for path, entry in list(self.active.items()):
            if entry.last_used < horizon or not entry.zygote.is_alive():
                self._retire(path, entry)
        for path, entry in list(self.retired):
            if not entry.zygote.has_children():
                self.retired.remove((path, entry))
                entry.stop()
                logger.info("sandbox: stopped the zygote of course runtime %s", path.name[:12])

    def running(self) -> list[Path]:
        """The runtimes whose zygote runs (active or retired), least recently used first."""
        with self.lock:
            return [path for path, _ in self.retired] + list(self.active)

    def stop_all(self) -> None:
        with self.lock:
            entries = [entry for _, entry in self.retired] + list(self.active.values())
            self.retired.clear()
            self.active.clear()
        for entry in entries:
            entry.stop()

    def _start_sweeper(self) -> None:
        if self._sweeper is not None:
            return

        def sweep_forever() -> None:
            while True:
                time.sleep(SWEEP_S)
                try:
                    self.sweep()
                except Exception:
                    logger.exception("sandbox: sweeping course-runtime zygotes failed")

        self._sweeper = threading.Thread(
            target=sweep_forever, name="sandbox-course-zygotes", daemon=True
        )
        self._sweeper.start()


zygotes = CourseZygotes()
