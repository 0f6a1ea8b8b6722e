"""Worker side of trusted grading: one fresh trusted process per submission.

For each run of consecutive test cells, one ``user_expressions`` request starts the
kernel helper's serve loop; the trusted process then drives it over a unix socket in
the kernel's shared directory (a fraction of a millisecond per operation, where one
execute request per operation would cost milliseconds).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import helper
from .forkserver import fork_server
from .frames import ProtocolError, recv_frame, send_frame


class TrustedRunnerError(RuntimeError):
    """Ours, not the learner's: the trusted process failed (grading should be retried)."""


class KernelLike(Protocol):
    """What the runner needs of ``sandbox.Kernel``."""

    host_dir: Path
    kernel_dir: str

    def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        user_expressions: dict[str, str] | None = None,
        rich_outputs: bool = True,
    ) -> Any: ...

    def interrupt(self) -> None: ...

    def is_alive(self) -> bool: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class CheckCell:
    """One test cell: ``key`` names it in the results; ``code`` is run on the trusted side.

    With ``doctest``, ``code`` is a doctest (otter's and okpy's OK format): its examples run
    in turn and each one's output must be what it expects, as python's doctest checks it.
    """

    key: str
    code: str
    doctest: bool = False


@dataclass(frozen=True)
class CheckResult:
    """The trusted outcome of one test cell.

    ``passed`` means the cell ran to the end. ``value`` is the last expression's value when
    it is a real number (partial credit); ``value_repr`` its trusted repr (output checks).
    ``error_message``, ``traceback`` and ``stdout`` may show test code or expected values:
    they are for instructors. ``from_learner`` says the error came from the learner's code.
    """

    key: str
    passed: bool
    value: float | None = None
    value_repr: str | None = None
    error_type: str | None = None
    error_message: str = ""
    from_learner: bool = False
    traceback: str = ""
    lines: tuple[int, ...] = ()  # the test's lines the error went through, outermost first
    stdout: str = ""
    duration_s: float = 0.0


def helper_expression(socket_path: str, *, loaded: bool = False) -> str:
    """The one user expression that loads the helper (once per kernel) and starts serving.

    Once a session has served, the helper is known to be loaded: later ones skip the code.
    """
    loader = f"__import__('sys').modules[{helper.KEY!r}]" if loaded else helper.LOADER
    return f"{loader}.serve({socket_path!r}, globals())"


class TrustedRunner:
    """A fresh trusted process bound to one learner kernel; use it for one submission only."""

    def __init__(self, kernel: KernelLike, *, cell_timeout_s: float = 30.0) -> None:
        self.kernel = kernel
        self.cell_timeout_s = cell_timeout_s
        self._ctrl, self._pid = fork_server().spawn()
        self._send_lock = threading.Lock()
        self._dead = ""
        self.helper_loaded = helper.KEY in getattr(kernel, "modules_from_source", ())

    def __enter__(self) -> TrustedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, cells: Sequence[CheckCell]) -> list[CheckResult]:
        """Run consecutive test cells; names they bind persist for later calls."""
        if not cells:
            return []
        if self._dead:
            return [_failed(c, self._dead) for c in cells]
        if not self.kernel.is_alive():
            return [_failed(c, "your notebook's kernel stopped before this test") for c in cells]
        path = f"trusted-{secrets.token_hex(8)}.sock"
        listening = self._checked_call(
            {
                "op": "listen",
                "path": str(Path(self.kernel.host_dir) / path),
                "timeout": self.cell_timeout_s,
            },
            expect="listening",
            wait_s=10,
        )
        if listening is None:
            return [_failed(c, self._dead) for c in cells]
        session = _KernelSession(self, f"{self.kernel.kernel_dir}/{path}", len(cells))
        session.start()
        try:
            return [self._run_one(cell) for cell in cells]
        finally:
            self._end_session(session)

    def define(self, code: str) -> bool:
        """Also bind the instructor's ``code`` (imports, functions) in the test namespace.

        Names bound here win over the kernel's: a learner who redefines an instructor's
        helper or patches an imported assert function does not change what tests call.
        Only definitions belong here; the code runs without the kernel.
        """
        if self._dead:
            return False
        reply = self._checked_call(
            {"op": "define", "code": code}, expect="defined", wait_s=self.cell_timeout_s
        )
        return reply is not None and reply.get("ok") is True

    def _run_one(self, cell: CheckCell) -> CheckResult:
        if self._dead:
            return _failed(cell, self._dead)
        msg = {
            "op": "run",
            "code": cell.code,
            "timeout": self.cell_timeout_s,
            "doctest": cell.doctest,
        }
        reply = self._checked_call(msg, expect="result", wait_s=self.cell_timeout_s + 5)
        return _failed(cell, self._dead) if reply is None else _result(cell.key, reply)

    def _checked_call(
        self, msg: dict[str, Any], *, expect: str, wait_s: float
    ) -> dict[str, Any] | None:
        """None when the trusted process hung (it is killed: a test outcome); a crash is ours."""
        try:
            return self._call(msg, expect=expect, wait_s=wait_s)
        except TimeoutError:
            self._kill("a test did not finish in time")
            return None
        except (OSError, EOFError, ProtocolError) as exc:
            self._kill("the trusted runner failed")
            raise TrustedRunnerError(f"the trusted runner failed: {exc!r}") from exc

    def _end_session(self, session: _KernelSession) -> None:
        session.ended = True
        try:
            if not self._dead:
                ended = self._checked_call({"op": "end"}, expect="ended", wait_s=10)
                self.helper_loaded |= ended is not None and ended.get("connected") is True
        finally:
            session.finish()

    def _call(self, msg: dict[str, Any], *, expect: str, wait_s: float = 10) -> dict[str, Any]:
        with self._send_lock:
            send_frame(self._ctrl, msg, [])
        self._ctrl.settimeout(wait_s)
        while True:
            reply, _ = recv_frame(self._ctrl)
            if reply.get("op") == expect:
                return reply
            if reply.get("op") != "noted":
                raise ProtocolError(f"unexpected reply {reply.get('op')!r}")

    def kernel_gone(self) -> None:
        """Called when the serve request returned early: stop waiting for the helper."""
        with contextlib.suppress(OSError), self._send_lock:
            send_frame(self._ctrl, {"op": "kernel_gone"}, [])

    def _kill(self, reason: str) -> None:
        self._dead = reason
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)

    def close(self) -> None:
        self._ctrl.close()
        if not self._dead:
            self._kill("closed")


class _KernelSession:
    """The kernel-side serve request, running in a thread while tests use it."""

    def __init__(self, runner: TrustedRunner, kernel_path: str, cells: int) -> None:
        self.runner = runner
        self.expression = helper_expression(kernel_path, loaded=runner.helper_loaded)
        self.timeout = runner.cell_timeout_s * (cells + 1)
        self.done = threading.Event()
        self.ended = False
        self.thread = threading.Thread(target=self._serve, daemon=True, name="trusted-serve")

    def start(self) -> None:
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.runner.kernel.execute(
                "", timeout=self.timeout, user_expressions={"trusted": self.expression}
            )
        except Exception:  # noqa: S110 - a dead kernel is reported through the tests
            pass
        finally:
            self.done.set()
            if not self.ended:
                self.runner.kernel_gone()

    def finish(self) -> None:
        if self.done.wait(5):
            return
        # The helper is stuck in the learner's code (a test timed out): interrupt it.
        with contextlib.suppress(Exception):
            self.runner.kernel.interrupt()
        if not self.done.wait(5):
            self.runner._dead = "your code did not stop after a test timed out"


def _failed(cell: CheckCell, reason: str) -> CheckResult:
    return CheckResult(
        key=cell.key,
        passed=False,
        error_type="KernelUnavailable",
        error_message=reason,
        from_learner=True,
    )


def _result(key: str, reply: dict[str, Any]) -> CheckResult:
    def text(name: str) -> str:
        value = reply.get(name)
        return value if isinstance(value, str) else ""

    value = reply.get("value")
    return CheckResult(
        key=key,
        passed=reply.get("passed") is True,
        value=_json_number(value) if type(value) in (int, float) else None,
        value_repr=reply["value_repr"] if isinstance(reply.get("value_repr"), str) else None,
        error_type=text("error_type") or None,
        error_message=text("error_message"),
        from_learner=reply.get("from_learner") is True,
        traceback=text("traceback"),
        lines=_lines(reply.get("lines")),
        stdout=text("stdout"),
        duration_s=_json_number(reply.get("duration_s")),
    )


def _lines(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if type(v) is int)


def _json_number(value: Any) -> float:
    return float(value) if type(value) in (int, float) else 0.0


def warm_up() -> None:
    """Get this process's trusted fork server ready (call it when a worker process starts)."""
    fork_server().warm_up()


def run_tests(
    kernel: KernelLike, cells: Sequence[CheckCell], *, cell_timeout_s: float = 30.0
) -> list[CheckResult]:
    """Run test cells once against ``kernel`` in a fresh trusted process."""
    with TrustedRunner(kernel, cell_timeout_s=cell_timeout_s) as runner:
        return runner.run(cells)
