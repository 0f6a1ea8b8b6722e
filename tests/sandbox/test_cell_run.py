"""How the worker reads the end of a cell (sandbox/outputs.py) when the kernel's connection
drops in the same moment: a kernel scripted message by message, as zmq hands them over
(a dropped connection is listed before the messages that came with it)."""

from __future__ import annotations

import itertools
from typing import Any

from sandbox.limits import Limits
from sandbox.outputs import CellRun

MSG_ID = "request-1"


def message(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"header": {"msg_type": kind}, "parent_header": {"msg_id": MSG_ID}, "content": content}


class Channels:
    def __init__(self, batches: list[list[tuple[str, dict[str, Any]]]]) -> None:
        self.batches = batches

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        return self.batches.pop(0) if self.batches else []


class Process:
    def is_alive(self) -> bool:
        return True  # its death is not visible yet, as when the connection drops first


class ScriptedKernel:
    def __init__(self, batches: list[list[tuple[str, dict[str, Any]]]]) -> None:
        self.limits = Limits()
        ticks = itertools.count()
        self.clock = lambda: next(ticks) * 0.01
        self.run_deadline = 1e9
        self.output_used = 0
        self.interrupt_requested = False
        self.stopped_by: str | None = None
        self.channels = Channels(batches)
        self.process = Process()
        self.interrupts = 0

    def send_interrupt(self) -> None:
        self.interrupts += 1

    def kill_for(self, reason: str) -> None:
        self.stopped_by = reason

    def death_reason(self) -> str:
        return "dead"


def run(batches: list[list[tuple[str, dict[str, Any]]]]) -> Any:
    kernel = ScriptedKernel(batches)
    cell = CellRun(kernel=kernel, msg_id=MSG_ID, index=0, timeout_s=5, on_output=None)
    return cell.wait(), kernel


def last_messages(idle: dict[str, Any]) -> list[list[tuple[str, dict[str, Any]]]]:
    printed = message("stream", {"name": "stdout", "text": "bye\n"})
    return [
        [("iopub", printed)],
        [
            ("dropped", {"header": {}, "content": {}}),
            ("shell", message("execute_reply", {"status": "ok"})),
            ("iopub", message("status", idle)),
        ],
    ]


def test_a_kernel_that_said_it_exits_after_its_answer_lost_nothing_when_it_disconnects() -> None:
    result, kernel = run(last_messages({"execution_state": "idle", "exiting": True}))

    assert result.status == "ok"
    assert [o.get("text") for o in result.outputs] == ["bye\n"]
    assert kernel.stopped_by is None and kernel.interrupts == 0


def test_a_connection_dropped_otherwise_is_a_message_lost_for_its_size() -> None:
    result, kernel = run(last_messages({"execution_state": "idle"}))

    assert result.status == "killed"
    assert kernel.stopped_by == "output"
    assert result.outputs[0]["text"] == "bye\n"
    assert len(result.outputs) == 2  # and the marker of what was lost
