"""INSECURE: a plain local ipykernel with the shape of ``sandbox.Kernel``.

No isolation at all: the learner's code runs as the current user with the network and
the whole disk. It exists so grading can be developed and tested without bubblewrap;
production passes the sandbox's ``Kernel`` instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec


@dataclass(frozen=True)
class LocalCellResult:
    index: int
    status: str  # "ok" | "error" | "timeout" | "killed"
    outputs: tuple[dict[str, Any], ...]
    duration_s: float
    user_expressions: Mapping[str, Any] = field(default_factory=dict)


class InsecureLocalKernel:
    """One unsandboxed kernel over ipc sockets in a private temporary directory."""

    def __init__(self, *, python: str = sys.executable, start_timeout_s: float = 30.0) -> None:
        self.host_dir = Path(tempfile.mkdtemp(prefix="insecure-kernel-"))
        self.kernel_dir = str(self.host_dir)
        self.peak_memory_mib: float | None = None
        self._count = 0
        self._km = KernelManager(transport="ipc", ip=str(self.host_dir / "ipc"))
        self._km.connection_file = str(self.host_dir / "kernel.json")
        self._km._kernel_spec = KernelSpec(  # pin the interpreter we were given
            argv=[python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="insecure local",
            language="python",
            interrupt_mode="signal",
        )
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME")}
        env.update(OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
        # Cheats that break the interpreter make it print tracebacks as it exits: not ours.
        self._km.start_kernel(
            env=env, cwd=str(self.host_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._client = self._km.blocking_client()
        self._client.start_channels()
        self._wait_ready(start_timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._client.kernel_info()
            try:
                self._client.get_shell_msg(timeout=min(5.0, deadline - time.monotonic()))
                self._client.get_iopub_msg(timeout=0.5)
                while self._client.iopub_channel.msg_ready():
                    self._client.get_iopub_msg(timeout=0)
                return
            except Exception:  # noqa: S112 - not ready yet (queue.Empty): ask again
                continue
        self.shutdown()
        raise RuntimeError("the local kernel did not start")

    def connection_info(self) -> dict[str, Any]:
        return dict(self._km.get_connection_info())

    def is_alive(self) -> bool:
        return bool(self._km.is_alive())

    def interrupt(self) -> None:
        self._km.interrupt_kernel()

    def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        user_expressions: dict[str, str] | None = None,
        on_output: Callable[[dict[str, Any]], None] | None = None,
        rich_outputs: bool = True,
    ) -> LocalCellResult:
        # rich_outputs: sandbox.Kernel's text-only displays need its kernel extension; this
        # kernel draws no figure either way (Agg), and its other outputs are all kept.
        started = time.monotonic()
        self._count += 1
        msg_id = self._client.execute(
            code, user_expressions=user_expressions or {}, allow_stdin=False, store_history=True
        )
        run = _Run(msg_id, on_output)
        status = self._pump(run, started + (timeout or 1e9))
        return LocalCellResult(
            index=self._count - 1,
            status=status,
            outputs=tuple(run.outputs),
            duration_s=time.monotonic() - started,
            user_expressions=run.reply.get("user_expressions", {}),
        )

    def _pump(self, run: _Run, deadline: float) -> str:
        poller = zmq.Poller()
        iopub, shell = self._client.iopub_channel, self._client.shell_channel
        poller.register(iopub.socket, zmq.POLLIN)
        poller.register(shell.socket, zmq.POLLIN)
        interrupted_at: float | None = None
        while not run.finished():
            now = time.monotonic()
            if now > deadline and interrupted_at is None:
                self.interrupt()
                interrupted_at = now
            if interrupted_at is not None and now > interrupted_at + 2:
                self.shutdown()
                return "timeout"
            if not poller.poll(100) and not self.is_alive():
                return "killed"
            while iopub.msg_ready():
                run.on_iopub(iopub.get_msg(timeout=0))
            while shell.msg_ready():
                run.on_shell(shell.get_msg(timeout=0))
        if interrupted_at is not None:
            return "timeout"
        return "ok" if run.reply.get("status") == "ok" else "error"

    def shutdown(self) -> None:
        try:
            self._client.stop_channels()
            if self._km.has_kernel:
                self._km.shutdown_kernel(now=True)
        finally:
            shutil.rmtree(self.host_dir, ignore_errors=True)


class _Run:
    def __init__(self, msg_id: str, on_output: Callable[[dict[str, Any]], None] | None) -> None:
        self.msg_id = msg_id
        self.on_output = on_output
        self.outputs: list[dict[str, Any]] = []
        self.reply: dict[str, Any] = {}
        self.replied_at: float | None = None
        self.idle = False

    def finished(self) -> bool:
        # iopub may drop messages (slow joiner): the shell reply plus a short grace suffices.
        grace = self.replied_at is not None and time.monotonic() > self.replied_at + 0.2
        return self.replied_at is not None and (self.idle or grace)

    def on_shell(self, msg: dict[str, Any]) -> None:
        if msg["parent_header"].get("msg_id") == self.msg_id:
            self.reply = msg["content"]
            self.replied_at = time.monotonic()

    def on_iopub(self, msg: dict[str, Any]) -> None:
        if msg["parent_header"].get("msg_id") != self.msg_id:
            return
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status":
            self.idle = content.get("execution_state") == "idle"
        elif kind in ("stream", "execute_result", "display_data", "error"):
            output = {"output_type": kind, **content}
            self.outputs.append(output)
            if self.on_output is not None:
                self.on_output(output)
