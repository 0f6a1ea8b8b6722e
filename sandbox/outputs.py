"""Waiting for one cell: collecting its outputs under the output cap, and enforcing its
wall-clock limits (interrupt first, kill when the interrupt is ignored).

A cell's run needs only a few things of its kernel (RunningKernel below): sandbox.kernel
hands itself over, and this module never imports it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import MappingProxyType
from typing import Any, Protocol

from sandbox import client
from sandbox.limits import CellResult, Limits

INTERRUPT_GRACE_S = 2.0
# Stands for a message too big to receive (the kernel's own stdout never sends one, see
# kernel_outstream.py: only code that bypasses it does): it uses up the output budget.
OVERSIZED: dict[str, Any] = {"output_type": "stream", "name": "stdout", "text": ""}
TRUNCATION_MARKER = "\n[output truncated: this run printed more than {limit} bytes]\n"


class Alive(Protocol):
    def is_alive(self) -> bool: ...


class RunningKernel(Protocol):
    """What waiting for a cell needs of its kernel (sandbox.kernel.Kernel): its channels,
    limits and clock, the run's deadline and output budget, and the ways to stop it."""

    limits: Limits
    clock: Callable[[], float]
    run_deadline: float | None
    output_used: int
    interrupt_requested: bool
    stopped_by: str | None

    @property
    def channels(self) -> client.Channels: ...

    @property
    def process(self) -> Alive: ...

    def send_interrupt(self) -> None: ...

    def kill_for(self, reason: str) -> None: ...

    def death_reason(self) -> str: ...


class CellRun:
    """The messages of one execute_request, until its reply and idle status, or a limit."""

    def __init__(
        self,
        *,
        kernel: RunningKernel,
        msg_id: str,
        index: int,
        timeout_s: float,
        on_output: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        self.kernel = kernel
        self.msg_id = msg_id
        self.index = index
        self.on_output = on_output
        self.clock = kernel.clock
        self.started = self.clock()
        assert kernel.run_deadline is not None
        self.deadline = min(self.started + timeout_s, kernel.run_deadline)
        self.outputs: list[dict[str, Any]] = []
        self.clear_pending = False
        self.reply: dict[str, Any] | None = None
        self.idle = False
        self.capped = False
        # A message too big to receive: shown as the marker unless the kernel was dying.
        self.lost_message = False
        self.interrupted = False
        # The kernel ignores an interrupt before it starts the cell (SIGINT is ignored while
        # ipykernel waits): one asked for earlier is sent once the cell's input is echoed.
        self.running = False
        self.exiting = False  # the kernel said it ends once this request is answered

    def wait(self) -> CellResult:
        finished = self._pump_until(self.deadline, self._ended, stop_on_cap=True)
        if not finished:
            return self._stop_after_timeout()
        if self.capped:
            return self._stop_after_output_cap()
        if self.reply is None:
            return self._interrupted_without_reply()
        status = "ok" if self.reply.get("status") == "ok" else "error"
        return self._result(status)

    def _ended(self) -> bool:
        # An interrupt that lands in ipykernel's own code, around the cell, can cost the
        # request its reply ("KeyboardInterrupt caught in kernel"): idle still comes, and
        # the cell is over. Waiting for the reply would hold it until its time limit.
        return self.idle and (self.reply is not None or self.interrupted)

    def _interrupted_without_reply(self) -> CellResult:
        # The reply is sent before idle: it is here at once unless it was lost.
        deadline = min(self.deadline, self.clock() + INTERRUPT_GRACE_S)
        self._pump_until(deadline, lambda: self.reply is not None)
        if self.reply is not None:
            return self._result("ok" if self.reply.get("status") == "ok" else "error")
        if not any(output["output_type"] == "error" for output in self.outputs):
            self._append(
                {
                    "output_type": "error",
                    "ename": "KeyboardInterrupt",
                    "evalue": "",
                    "traceback": [],
                }
            )
        return self._result("error")

    def _idle(self) -> bool:
        # Published after every output of the request, on the same socket: all are in. An
        # interrupt that lands as the cell ends can cost ipykernel its reply, never this.
        return self.idle

    def _replied_or_idle(self) -> bool:
        return self.reply is not None or self.idle

    def _pump_until(
        self, deadline: float, done: Callable[[], bool], *, stop_on_cap: bool = False
    ) -> bool:
        """Handle messages until `done()` (True), the deadline or a death (False)."""
        while not done():
            if stop_on_cap and self.capped:
                return True
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            if self.kernel.interrupt_requested and self.running:
                self.interrupted = True
                self.kernel.send_interrupt()
            messages = self.kernel.channels.poll(min(remaining, 0.1))
            if not messages and not self.kernel.process.is_alive():
                self.kernel.stopped_by = self.kernel.stopped_by or self.kernel.death_reason()
                return False
            # A dropped connection is listed first, but what came with it was sent before.
            for channel, msg in messages:
                if channel != "dropped" and client.parent_id(msg) == self.msg_id:
                    self._handle(channel, msg)
            if any(channel == "dropped" for channel, _ in messages) and not self.exiting:
                if self._kernel_died():
                    return False
                if not self.capped:
                    # Over the size limit, or a death not visible yet: the run stops either
                    # way, and _stop_after_output_cap tells which it was.
                    self.capped = self.lost_message = True
        return True

    def _kernel_died(self) -> bool:
        if self.kernel.process.is_alive():
            return False
        self.kernel.stopped_by = self.kernel.stopped_by or self.kernel.death_reason()
        return True

    def _stop_after_timeout(self) -> CellResult:
        if self.kernel.stopped_by is not None:  # it died on its own: memory, cpu...
            return self._result("killed")
        self.kernel.stopped_by = "timeout"
        self.kernel.send_interrupt()
        if not self._pump_until(self.clock() + INTERRUPT_GRACE_S, self._idle):
            # The cell ignored the interrupt (or caught KeyboardInterrupt): kill it.
            self.kernel.kill_for("timeout")
        self._append(
            {
                "output_type": "error",
                "ename": "TimeoutError",
                "evalue": self._why(),
                "traceback": [],
            }
        )
        return self._result("timeout")

    def _stop_after_output_cap(self) -> CellResult:
        # Outputs past the cap are not kept: the first sign that the cell ended will do
        # (a flood can make the kernel drop its idle status). A cell already over is not
        # interrupted: a session goes on with its kernel.
        if not self._replied_or_idle():
            self.kernel.send_interrupt()
            if not self._pump_until(self.clock() + INTERRUPT_GRACE_S, self._replied_or_idle):
                if self.kernel.stopped_by is not None:
                    # It died on its own (memory, cpu): its connection dropping was no message.
                    return self._result("killed")
                self.kernel.kill_for("output")
        if self.lost_message:
            self.capped = False
            self._append(OVERSIZED)
        self.kernel.stopped_by = self.kernel.stopped_by or "output"
        return self._result("killed")

    def _why(self) -> str:
        limits = self.kernel.limits
        if self.kernel.run_deadline is not None and self.deadline >= self.kernel.run_deadline:
            return f"the notebook ran longer than {limits.total_timeout_s:g} s in total"
        return f"the cell ran longer than {self.deadline - self.started:g} s"

    def _result(self, status: str) -> CellResult:
        expressions: dict[str, Any] = {}
        if self.reply is not None and isinstance(self.reply.get("user_expressions"), dict):
            expressions = self.reply["user_expressions"]
        return CellResult(
            index=self.index,
            status=status,
            outputs=tuple(self.outputs),
            duration_s=self.clock() - self.started,
            user_expressions=MappingProxyType(expressions),
        )

    def _handle(self, channel: str, msg: dict[str, Any]) -> None:
        kind = client.msg_type(msg)
        content = msg["content"]
        if channel == "shell" and kind == "execute_reply":
            self.reply = content
        elif channel != "iopub":
            return
        elif kind == "status":
            self.idle = content.get("execution_state") == "idle"
            # A grading kernel's exit() (lean_kernel.publish_idle): it closes its connection
            # next, which loses nothing.
            self.exiting |= self.idle and content.get("exiting") is True
        elif kind == "execute_input":
            self.running = True
        elif kind == "clear_output":
            if content.get("wait"):
                self.clear_pending = True
            else:
                self.outputs.clear()
        elif (output := to_output(kind, content)) is not None:
            if self.clear_pending:
                self.outputs.clear()
                self.clear_pending = False
            self._append(output)

    def _append(self, output: dict[str, Any]) -> None:
        """Keep the output if the run's budget allows; truncate with a marker otherwise."""
        if self.capped:
            return
        kernel = self.kernel
        budget = kernel.limits.output_bytes - kernel.output_used
        size = budget + 1 if output is OVERSIZED else output_size(output)
        if size > budget:
            self.capped = True
            marker = TRUNCATION_MARKER.format(limit=kernel.limits.output_bytes)
            text = output.get("text", "") if output["output_type"] == "stream" else ""
            output = {
                "output_type": "stream",
                "name": output.get("name", "stderr") if text else "stderr",
                "text": text.encode()[: max(budget, 0)].decode(errors="ignore") + marker,
            }
            size = budget
        kernel.output_used += size
        if self.on_output is not None:
            self.on_output(output)
        last = self.outputs[-1] if self.outputs else None
        if (
            last is not None
            and output["output_type"] == "stream"
            and last["output_type"] == "stream"
            and last["name"] == output["name"]
        ):
            self.outputs[-1] = {**last, "text": last["text"] + output["text"]}
        else:
            self.outputs.append(output)


def output_size(output: dict[str, Any]) -> int:
    if output["output_type"] == "stream":
        return len(output["text"].encode())
    return len(json.dumps(output))


def to_output(kind: str, content: dict[str, Any]) -> dict[str, Any] | None:
    """An nbformat v4 output from an iopub message; anything malformed is dropped."""
    if kind == "stream":
        name, text = content.get("name"), content.get("text")
        if name in ("stdout", "stderr") and isinstance(text, str):
            return {"output_type": "stream", "name": name, "text": text}
        return None
    if kind in ("execute_result", "display_data"):
        data, metadata = content.get("data"), content.get("metadata", {})
        if not isinstance(data, dict) or not isinstance(metadata, dict):
            return None
        output: dict[str, Any] = {"output_type": kind, "data": data, "metadata": metadata}
        if kind == "execute_result":
            output["execution_count"] = content.get("execution_count")
        return output
    if kind == "error":
        traceback = content.get("traceback", [])
        if not isinstance(traceback, list):
            traceback = []
        return {
            "output_type": "error",
            "ename": str(content.get("ename", "")),
            "evalue": str(content.get("evalue", "")),
            "traceback": [str(line) for line in traceback],
        }
    return None
