"""Grading kernels run without ipykernel's event loop and threads (sandbox/lean_kernel.py):
what a cell gives back is what a stock kernel gives back. Real kernels, forked from the
zygote of grading kernels and from the default zygote.

Interrupts, output floods and the attacks run against grading kernels too (the
grading-zygote mode of the attack tests).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Kernel, Limits, launch, zygote
from sandbox.lean_kernel import CHUNK_CHARS, Stream

CELLS = [
    "x = 6 * 7\nx",
    "print('to stdout'); import sys; print('to stderr', file=sys.stderr); 'last'",
    "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))\nprint('after')",
    "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('a figure')",
    "def broken():\n    return 1 / 0\nbroken()",
    "input('your name? ')",
    "import threading\n"
    "t = threading.Thread(target=lambda: print('from a thread'))\n"
    "t.start(); t.join()",
    "import os; os.environ['NBGRADER_EXECUTION']",
    "%time y = sum(range(10))",
    "import subprocess, sys\nsubprocess.run(['true'], stdout=sys.stdout).returncode",
    "import asyncio\nawait asyncio.sleep(0)\n'awaited'",  # top-level await
    "from IPython.display import clear_output\nprint('gone'); clear_output(); print('kept')",
    "handle = display('first', display_id=True)\nhandle.update('second')",
    "import warnings\nwarnings.warn('careful')",
    "import logging\nlogging.basicConfig()\nlogging.getLogger('x').warning('logged')",
    "import pandas as pd\npd.DataFrame({'a': [1, 2]})",
]


def comparable(outputs: Any) -> list[dict[str, Any]]:
    """Outputs without what differs between two runs (PNG bytes, the kernel's paths)."""
    shown = []
    for output in outputs:
        output = json.loads(json.dumps(output))
        data = output.get("data", {})
        if "image/png" in data:
            data["image/png"] = "<png>"
        output.pop("metadata", None)
        if output.get("output_type") == "error":
            output["traceback"] = len(output["traceback"]) > 0
        if output.get("name") == "stdout" and "Wall time" in output.get("text", ""):
            output["text"] = "<timing>"
        shown.append(output)
    return shown


@pytest.fixture
def kernels() -> Iterator[tuple[Kernel, Kernel]]:
    """A grading kernel and a live session's kernel (stock ipykernel), both from zygotes."""
    grading = launch.start_kernel(limits=Limits(), mode="zygote", grading=True)
    stock = launch.start_kernel(limits=Limits(), mode="zygote")
    yield grading, stock
    grading.shutdown(wait=True)
    stock.shutdown(wait=True)


def test_a_grading_kernel_gives_back_what_a_stock_kernel_gives_back(kernels) -> None:
    grading, stock = kernels
    for code in CELLS:
        lean = grading.execute(code, timeout=30)
        full = stock.execute(code, timeout=30)
        if "NBGRADER" in code:  # the one difference on purpose: grading's environment
            assert lean.outputs[0]["data"]["text/plain"] == "'autograde'"
            assert full.status == "error"
            continue
        assert lean.status == full.status, code
        assert comparable(lean.outputs) == comparable(full.outputs), code
    # the figure really was drawn, and the error is the learner's
    figure = grading.execute("plt.plot([1]); plt.show()", timeout=30)
    assert figure.outputs[0]["data"]["image/png"]
    error = grading.execute("broken()", timeout=30)
    assert error.outputs[0]["ename"] == "ZeroDivisionError"


def test_a_grading_kernel_answers_user_expressions_and_counts_executions() -> None:
    kernel = launch.start_kernel(limits=Limits(), mode="zygote", grading=True)
    try:
        kernel.execute("a = 2", timeout=30)
        outcome = kernel.execute(
            "b = a + 1", timeout=30, user_expressions={"sum": "a + b", "bad": "missing"}
        )
        counted = kernel.execute("'third'", timeout=30)
    finally:
        kernel.shutdown(wait=True)
    assert outcome.user_expressions["sum"]["data"]["text/plain"] == "5"
    assert outcome.user_expressions["bad"]["status"] == "error"
    assert counted.outputs[0]["execution_count"] == 3


def test_a_grading_kernel_sends_a_long_print_in_pieces_and_runs_no_ipykernel_thread() -> None:
    kernel = launch.start_kernel(limits=Limits(), mode="zygote", grading=True)
    try:
        pieces: list[str] = []
        kernel.execute(
            f"print('x' * {3 * CHUNK_CHARS + 5}, end='')",
            timeout=30,
            on_output=lambda output: pieces.append(output["text"]),
        )
        threads = kernel.execute(
            "import threading; sorted(t.name for t in threading.enumerate())", timeout=30
        )
    finally:
        kernel.shutdown(wait=True)
    assert "".join(pieces) == "x" * (3 * CHUNK_CHARS + 5)
    assert max(len(piece) for piece in pieces) <= CHUNK_CHARS
    # the main thread and the control channel's: no IOPub thread, no event loop thread
    assert ast.literal_eval(threads.outputs[0]["data"]["text/plain"]) == ["MainThread", "control"]


# The next request's reply is being built when the interrupt lands (once): as if it came just
# after the cell ended, before the kernel ignored SIGINT again.
SLOW_AFTER_THE_CELL = """\
import time
payloads = get_ipython().payload_manager
read = payloads.read_payload
calls = []
def slowly():
    calls.append(1)
    if len(calls) == 2:  # the next request's (this one's own comes first)
        payloads.read_payload = read
        time.sleep(60)
    return read()
payloads.read_payload = slowly
"""


def test_an_interrupt_that_lands_after_the_cell_ends_the_request_and_keeps_the_kernel() -> None:
    kernel = launch.start_kernel(limits=Limits(), mode="zygote", grading=True)
    try:
        kernel.execute(SLOW_AFTER_THE_CELL, timeout=30)
        # the cell itself is over at once; its time limit passes while the reply is built
        timed_out = kernel.execute("x = 1", timeout=1)
        kernel.stopped_by = None  # as a live session does after a cell's time limit
        after = kernel.execute("x + 1", timeout=30)
        alive = kernel.is_alive()
    finally:
        kernel.shutdown(wait=True)
    assert timed_out.status == "timeout"
    # interrupted, not killed: the kernel ended the request at its idle status
    assert alive and after.outputs[0]["data"]["text/plain"] == "2"


def test_exit_ends_a_grading_kernel_once_its_cell_is_answered() -> None:
    # As a stock kernel does (0.1 s after the cell): exit() asks the kernel to stop.
    kernel = launch.start_kernel(limits=Limits(), mode="zygote", grading=True)
    try:
        exited = kernel.execute("print('bye'); exit()", timeout=30)
        stopped = zygote._readable(kernel.process.pidfd, 30)
    finally:
        kernel.shutdown(wait=True)
    assert exited.status == "ok" and exited.outputs[0]["text"] == "bye\n"
    assert stopped


PRINTS_FROM_A_SIGNAL_HANDLER = """\
import signal
ticks = []
def tick(*args):
    ticks.append(1)
    print('tick')
signal.signal(signal.SIGALRM, tick)
signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
try:
    for i in range(50_000):
        print(i)
finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
len(ticks)
"""


def test_a_signal_handler_that_prints_while_the_cell_prints_does_not_hang_the_kernel() -> None:
    kernel = launch.start_kernel(
        limits=Limits(output_bytes=10_000_000), mode="zygote", grading=True
    )
    try:
        printed = kernel.execute(PRINTS_FROM_A_SIGNAL_HANDLER, timeout=60)
    finally:
        kernel.shutdown(wait=True)
    assert printed.status == "ok"
    ticks = int(printed.outputs[-1]["data"]["text/plain"])
    text = "".join(o["text"] for o in printed.outputs if o.get("name") == "stdout")
    # every print once, in order (a tick may fall between a print's text and its newline)
    assert ticks > 0 and text.count("tick") == ticks
    lines = [line for line in text.replace("tick", "").split("\n") if line]
    assert lines == [str(i) for i in range(50_000)]


class _HandlerPrints:
    """A session whose first send is interrupted by a signal handler that prints a whole
    piece's worth: the write comes into the stream while it sends."""

    def __init__(self) -> None:
        self.stream: Stream | None = None
        self.sent: list[str] = []

    def send(self, socket: Any, msg_type: str, content: dict[str, Any], **_: Any) -> None:
        self.sent.append(content["text"])
        if len(self.sent) == 1 and self.stream is not None:
            self.stream.write("x" * CHUNK_CHARS)


def test_a_print_that_comes_while_a_piece_is_sent_goes_out_once_after_it() -> None:
    session = _HandlerPrints()
    stream = session.stream = Stream(session, socket=None, name="stdout")
    stream.write("a" * CHUNK_CHARS + "b")
    stream.flush()
    assert "".join(session.sent) == "a" * CHUNK_CHARS + "b" + "x" * CHUNK_CHARS
    assert all(len(piece) <= CHUNK_CHARS for piece in session.sent)
