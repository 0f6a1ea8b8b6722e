"""Interrupting a running cell: the windows where an interrupt could be lost."""

from __future__ import annotations

import threading

import pytest

from sandbox import Limits, Session
from tests.sandbox.conftest import GRADING_ZYGOTE, MODES
from tests.support.sandbox import StartKernel, once_printed, stdout

# In the kernel: 'slee' is published alone (its flush confirmed), then the print of 'ping'
# is published but its flush is never confirmed (the IO thread's completion event is
# dropped): the main thread is inside OutStream.flush, waiting, when 'sleeping\n' has
# arrived and the interrupt comes. Restored after, so that the kernel's own flush at the
# end of the cell does not wait.
FLUSH_NEVER_CONFIRMED = """\
import sys, time
stream = sys.stdout
stream.write('slee')
stream.flush()
schedule = stream.pub_thread.schedule
stream.pub_thread.schedule = lambda f: None if getattr(f, '__name__', '') == 'set' else schedule(f)
stream.flush_timeout = 600
try:
    print('ping', flush=True)
    time.sleep(600)
finally:
    stream.pub_thread.schedule = schedule
    stream.flush_timeout = 10
"""


def test_an_interrupt_ends_a_cell_still_inside_the_flush_of_a_print_sent_in_parts(
    mode: str,
) -> None:
    # given: a session, and a cell that printed 'sleeping\n' in two messages and waits
    # inside its last flush
    with Session(limits=Limits(cell_timeout_s=600, total_timeout_s=600), mode=mode) as session:
        session.execute("x = 1")

        # when: it is interrupted once 'sleeping\n' has arrived
        result = session.execute(
            FLUSH_NEVER_CONFIRMED, on_output=once_printed("sleeping\n", session.interrupt)
        )

        # then: the cell ends with KeyboardInterrupt, raised inside the flush, and the
        # kernel goes on with its state
        texts = [o["text"] for o in result.outputs if o["output_type"] == "stream"]
        assert "".join(texts) == "sleeping\n"
        assert result.status == "error"
        error = result.outputs[-1]
        assert error["ename"] == "KeyboardInterrupt"
        assert any("flush" in line for line in error["traceback"])
        assert not any("kernel_interrupt" in line for line in error["traceback"])
        assert session.execute("x").outputs[0]["data"]["text/plain"] == "1"


# In the kernel: the reply to this request raises KeyboardInterrupt instead of being sent,
# as when an interrupt lands in ipykernel's own code as the cell ends: ipykernel logs
# "KeyboardInterrupt caught in kernel", sends no reply, and publishes idle.
REPLY_LOST = """\
import time
kernel = get_ipython().kernel
send = kernel.session.send
def send_or_lose_reply(stream, msg_or_type, *args, **kwargs):
    if msg_or_type == 'execute_reply':
        kernel.session.send = send
        raise KeyboardInterrupt
    return send(stream, msg_or_type, *args, **kwargs)
kernel.session.send = send_or_lose_reply
print('sleeping', flush=True)
time.sleep(600)
"""


def test_an_interrupted_cell_whose_reply_is_lost_ends_at_its_idle_status(mode: str) -> None:
    # given: a session, and a running cell whose reply will be lost
    with Session(limits=Limits(cell_timeout_s=300, total_timeout_s=600), mode=mode) as session:
        session.execute("x = 1")

        # when: it is interrupted
        result = session.execute(
            REPLY_LOST, on_output=once_printed("sleeping\n", session.interrupt)
        )

        # then: it ends as interrupted, not at its time limit, and the kernel goes on
        assert result.status == "error"
        assert result.outputs[-1]["ename"] == "KeyboardInterrupt"
        assert session.execute("x").outputs[0]["data"]["text/plain"] == "1"


def test_an_interrupt_asked_for_before_the_kernel_started_the_cell_still_stops_it(
    mode: str,
) -> None:
    # given: a session whose interrupt comes just after the cell is sent, before the kernel
    # has started it (ipykernel ignores SIGINT until then)
    with Session(limits=Limits(cell_timeout_s=300, total_timeout_s=600), mode=mode) as session:
        session.execute("x = 1")
        kernel = session.kernel
        assert kernel is not None
        send = kernel.channels.send

        def send_then_interrupt(
            channel: str, kind: str, content: dict, metadata: dict | None = None
        ) -> str:
            msg_id = send(channel, kind, content, metadata)
            if kind == "execute_request":
                # from another thread, as the page's request arrives: the cell holds the lock
                asker = threading.Thread(target=session.interrupt)
                asker.start()
                asker.join()
            return msg_id

        kernel.channels.send = send_then_interrupt  # type: ignore[method-assign,assignment]
        # when: cells run (several: the kernel does not always start a cell late enough)
        results = [
            session.execute("import time\nfor _ in range(600):\n    time.sleep(0.05)")
            for _ in range(5)
        ]
        kernel.channels.send = send  # type: ignore[method-assign]

        # then: the interrupt reached each once it started: none ran its 30 s
        assert [(r.status, r.outputs[-1]["ename"]) for r in results] == [
            ("error", "KeyboardInterrupt")
        ] * 5
        assert session.execute("x").outputs[0]["data"]["text/plain"] == "1"


def test_an_interrupt_left_over_from_the_previous_cell_does_not_stop_the_next(mode: str) -> None:
    with Session(limits=Limits(cell_timeout_s=300, total_timeout_s=600), mode=mode) as session:
        session.execute("x = 1")
        kernel = session.kernel
        assert kernel is not None
        # given: an interrupt asked for as the previous cell was ending (its loop was done)
        kernel.interrupt_requested = True
        # when: the next cell runs for a while
        result = session.execute("import time\ntime.sleep(1)\nx = 2")
        # then: it is not interrupted
        assert result.status == "ok", result.outputs
        assert session.execute("x").outputs[0]["data"]["text/plain"] == "2"


# In the kernel: the interrupt's SIGINT lands on the control thread that sends it, not on the
# main thread, which waits on an Event: CPython's flag is set, and the main thread, which
# alone raises KeyboardInterrupt, is not woken (as when the signal lands just before the
# wait begins). The handler sleeps: a second KeyboardInterrupt would end the cell there.
SIGNAL_ELSEWHERE = """\
import os, signal, threading, time
kill, killpg = os.kill, os.killpg
def on_this_thread(pid, signum):
    signal.pthread_kill(threading.get_ident(), signum)
os.kill = os.killpg = on_this_thread
try:
    print('waiting', flush=True)
    threading.Event().wait(600)
except KeyboardInterrupt:
    print('interrupted', flush=True)
    time.sleep(1.5)
    print('cleaned up')
finally:
    os.kill, os.killpg = kill, killpg
"""


@pytest.mark.parametrize("mode", [*MODES, *([GRADING_ZYGOTE] if "zygote" in MODES else [])])
def test_an_interrupt_the_main_thread_missed_is_raised_in_it_once(start: StartKernel) -> None:
    # given: a kernel, and a cell whose interrupt signal will not wake its main thread
    kernel = start(cell_timeout_s=300, total_timeout_s=600)
    kernel.execute("x = 1")

    # when: it is interrupted once it waits
    result = kernel.execute(SIGNAL_ELSEWHERE, on_output=once_printed("waiting\n", kernel.interrupt))

    # then: KeyboardInterrupt is raised in the wait, once: the handler runs to its end
    assert result.status == "ok", result.outputs
    assert stdout(result) == "waiting\ninterrupted\ncleaned up\n"
    assert kernel.execute("x").outputs[0]["data"]["text/plain"] == "1"


# In the kernel: no thread can start (as at the process limit), so the interrupt's repeat
# cannot either; restored once the cell ends.
NO_NEW_THREAD = """\
import threading, time
start = threading.Thread.start
def refused(thread):
    raise RuntimeError("can't start new thread")
threading.Thread.start = refused
try:
    print('sleeping', flush=True)
    time.sleep(600)
finally:
    threading.Thread.start = start
"""


@pytest.mark.parametrize("mode", [*MODES, *([GRADING_ZYGOTE] if "zygote" in MODES else [])])
def test_a_kernel_that_cannot_start_a_thread_is_still_interrupted_and_answers_the_next(
    start: StartKernel,
) -> None:
    # given: a kernel whose running cell leaves no room for the interrupt's repeating thread
    kernel = start(cell_timeout_s=300, total_timeout_s=600)
    interrupted = kernel.execute(
        NO_NEW_THREAD, on_output=once_printed("sleeping\n", kernel.interrupt)
    )

    # when: a later cell is interrupted too
    later = kernel.execute(
        "import time\nprint('sleeping', flush=True)\ntime.sleep(600)",
        on_output=once_printed("sleeping\n", kernel.interrupt),
    )

    # then: both end with KeyboardInterrupt: the control thread lived on
    assert [(r.status, r.outputs[-1].get("ename")) for r in (interrupted, later)] == [
        ("error", "KeyboardInterrupt")
    ] * 2
