"""Inside the kernel: an interrupt that reaches the process is not lost by the main thread.

Installed into the kernel runtime by `python -m sandbox build-runtime` and loaded as an
IPython extension by the kernel's command line (isolation.KERNEL_OPTIONS).

ipykernel's control thread interrupts a cell by sending the process SIGINT. CPython's C
handler only sets a flag; the main thread raises KeyboardInterrupt when it next checks
between bytecodes, or at once when the signal breaks a wait it is in. A signal that lands
after the main thread's last check and before its wait begins (OutStream.flush waits on an
Event), or on another of the kernel's threads, leaves the flag set and nobody to see it: the
cell waits out its time limit (CI saw it once, in a cell blocked in a flush).

Here SIGINT's handler during a request notes which interrupt it raised. While the request
that was interrupted still runs and that interrupt has not been raised, a short-lived thread
signals the main thread itself (pthread_kill breaks its wait), 0.1 s after the interrupt and
then every 0.5 s, at most REPEATS times. The cell sees one KeyboardInterrupt per interrupt:
a repeat of an interrupt already raised is ignored, until the next interrupt or request.

A KeyboardInterrupt's traceback is shown without the frame of the handler that raised it.
Learner code that installs a SIGINT handler of its own gets ipykernel's behaviour (no
repeat); learner code can undo all of it, which only loses the learner's own interrupts.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

FIRST_REPEAT_S = 0.1
REPEAT_EVERY_S = 0.5
REPEATS = 20


class Interrupts:
    """SIGINT's handler while a request runs, and the control thread's way to send it."""

    def __init__(self, main_thread: int) -> None:
        self.main_thread = main_thread
        self.requested = 0  # interrupts sent (control thread)
        self.raised = 0  # the last one raised as KeyboardInterrupt (main thread)
        self.repeated = False  # a repeat was sent since the last interrupt or request
        self.request = 0  # requests started (main thread)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.repeated and self.raised == self.requested:
            return  # a repeat of an interrupt already raised
        self.raised = self.requested
        raise KeyboardInterrupt

    def request_starts(self) -> Any:
        """On the main thread, before a request's handler: the handler to restore after."""
        self.request += 1
        self.repeated = False
        return signal.signal(signal.SIGINT, self)

    def interrupt(self, send: Callable[[], None]) -> None:
        """On the control thread: `send` the interrupt, and repeat it until it is raised."""
        self.requested += 1
        self.repeated = False
        wanted, request = self.requested, self.request
        send()
        repeat = threading.Thread(
            target=self._repeat, args=(wanted, request), daemon=True, name="interrupt-repeat"
        )
        # At its process limit (a fork bomb's cell) the kernel has the one signal it sent.
        with contextlib.suppress(RuntimeError):
            repeat.start()

    def _repeat(self, wanted: int, request: int) -> None:
        wait = FIRST_REPEAT_S
        for _ in range(REPEATS):
            time.sleep(wait)
            wait = REPEAT_EVERY_S
            if not self._lost(wanted, request):
                return
            self.repeated = True
            signal.pthread_kill(self.main_thread, signal.SIGINT)

    def _lost(self, wanted: int, request: int) -> bool:
        return (
            self.raised < wanted
            and self.requested == wanted
            and self.request == request
            and signal.getsignal(signal.SIGINT) is self
        )


def shown_without_handler(
    shell: Any, etype: type, value: BaseException, tb: TracebackType, tb_offset: Any = None
) -> None:
    """IPython's handler of KeyboardInterrupt in a cell: its traceback as the learner's code
    raised it, without the frame of SIGINT's handler (always the last, when it is there)."""
    entry: TracebackType | None = tb
    while entry is not None and entry.tb_next is not None:
        if entry.tb_next.tb_next is None and entry.tb_next.tb_frame.f_code is HANDLER_CODE:
            entry.tb_next = None
        entry = entry.tb_next
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


HANDLER_CODE = Interrupts.__call__.__code__


def load_ipython_extension(shell: Any) -> None:
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "pre_handler_hook"):
        return
    interrupts = Interrupts(threading.main_thread().ident or 0)
    send = kernel._send_interrupt_children

    def pre_handler_hook() -> None:
        kernel.saved_sigint_handler = interrupts.request_starts()

    kernel.pre_handler_hook = pre_handler_hook
    if not shell.custom_exceptions:
        shell.set_custom_exc((KeyboardInterrupt,), shown_without_handler)
    kernel._send_interrupt_children = lambda: interrupts.interrupt(send)
