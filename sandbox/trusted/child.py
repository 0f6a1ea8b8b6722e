"""The trusted process: runs test cells against the learner's kernel, one submission only.

It talks to the worker on a control socket (JSON frames) and to the kernel helper on a
unix socket it listens on in the kernel's shared directory. Test code may patch anything
in this process, which is why each submission gets a fresh one.
"""

from __future__ import annotations

import ast
import contextlib
import doctest as pydoctest
import io
import linecache
import math
import numbers
import os
import random
import re
import resource
import select
import signal
import socket
import time
import traceback
from types import FrameType
from typing import Any

from .frames import recv_frame, send_frame
from .link import KernelLink
from .namespace import TestGlobals
from .remote import Remote

OUTPUT_LIMIT = 20_000
ADDRESS_SPACE_BYTES = 4 << 30


class TestTookTooLong(BaseException):
    """Not an Exception: a test's ``except Exception`` must not swallow its own time limit."""

    __test__ = False


class Child:
    def __init__(self, ctrl: socket.socket) -> None:
        self.ctrl = ctrl
        self.link = KernelLink(timeout_s=30.0)
        self.globals = TestGlobals(self.link)
        self.listener: socket.socket | None = None

    def serve(self) -> None:
        while True:
            try:
                msg, _ = recv_frame(self.ctrl)
            except (OSError, EOFError):
                return
            reply = self.handle(msg)
            if reply is None:
                return
            send_frame(self.ctrl, reply, [])

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        op = msg.get("op")
        if op == "listen":
            self.listen(str(msg["path"]), float(msg["timeout"]))
            return {"op": "listening"}
        if op == "run":
            self.connect_if_waiting()
            return run_cell(
                self.globals,
                str(msg["code"]),
                float(msg["timeout"]),
                doctest=msg.get("doctest") is True,
            )
        if op == "define":
            return {"op": "defined", "ok": define(self.globals, str(msg["code"]))}
        if op == "kernel_gone":
            self.stop_listening("your notebook's kernel could not be reached")
            return {"op": "noted"}
        if op == "end":
            connected = self.link.sock is not None
            self.link.detach()
            self.stop_listening("your notebook's kernel is not connected")
            return {"op": "ended", "connected": connected}
        return None

    def listen(self, path: str, timeout_s: float) -> None:
        self.link.timeout_s = timeout_s
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # The kernel runs as another uid and may connect: the directory keeps others out.
        # Set by umask at creation, never by chmod on the path, which the kernel could swap
        # for a symlink to a host file in between.
        previous = os.umask(0)
        try:
            listener.bind(path)
        finally:
            os.umask(previous)
        listener.listen(1)
        self.listener = listener

    def stop_listening(self, reason: str) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.listener.getsockname())
            self.listener.close()
            self.listener = None
            self.link.broken = reason

    def connect_if_waiting(self) -> None:
        """Accept the helper's connection, unless the worker says the kernel is gone."""
        if self.listener is None:
            return
        deadline = time.monotonic() + self.link.timeout_s
        while self.listener is not None:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.listener, self.ctrl], [], [], max(left, 0))
            if self.listener in ready:
                conn, _ = self.listener.accept()
                # Exactly one connection per session: whoever comes later is not heard.
                self.stop_listening("")
                self.link.attach(conn)
                return
            if self.ctrl in ready:
                msg, _ = recv_frame(self.ctrl)
                if msg.get("op") == "kernel_gone":
                    self.stop_listening("your notebook's kernel could not be reached")
                    send_frame(self.ctrl, {"op": "noted"}, [])
            elif left <= 0:
                self.stop_listening("your notebook's kernel did not answer in time")


def define(globals_: TestGlobals, code: str) -> bool:
    """Bind the instructor's imports and definitions here too, so tests get these copies.

    Statement by statement: an import this process cannot do (a course's own module)
    leaves that name to the kernel and does not stop the others.
    """
    try:
        statements = ast.parse(code, "<instructor>").body
    except SyntaxError:
        return False
    done = True
    for statement in statements:
        module = ast.Module(body=[statement], type_ignores=[])
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                exec(compile(module, "<instructor>", "exec"), globals_)  # noqa: S102
        except Exception:
            done = False
    return done


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TestTookTooLong("the test took too long")


def run_cell(
    globals_: TestGlobals, code: str, timeout_s: float, *, doctest: bool = False
) -> dict[str, Any]:
    started = time.perf_counter()
    globals_.forget_resolved()
    globals_.link.start_test()
    out = io.StringIO()
    result: dict[str, Any] = {
        "op": "result",
        "passed": False,
        "value": None,
        "value_repr": None,
        "error_type": None,
        "error_message": "",
        "from_learner": False,
        "traceback": "",
    }
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        globals_.lending = True
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            value = _run_doctest(globals_, code) if doctest else _execute(globals_, code)
        signal.setitimer(signal.ITIMER_REAL, 0)
        result.update(passed=True, **_describe_value(value))
    except BaseException as exc:  # test code may raise anything; this process reports it
        signal.setitimer(signal.ITIMER_REAL, 0)
        result.update(
            error_type=type(exc).__name__,
            error_message=_safe_str(exc)[:2000],
            from_learner=getattr(exc, "from_learner", False) is True,
            traceback=_test_traceback(exc),
            lines=_test_lines(exc),
        )
    finally:
        globals_.lending = False
        globals_.link.patches.find_owners()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    result["stdout"] = out.getvalue()[-OUTPUT_LIMIT:]
    result["duration_s"] = time.perf_counter() - started
    return result


def _test_lines(exc: BaseException) -> list[int]:
    """The test's own lines the error went through, outermost first."""
    lines: list[int] = []
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<test>":
            lines.append(tb.tb_lineno)
        tb = tb.tb_next
    return lines


def _test_traceback(exc: BaseException) -> str:
    """The traceback from the test's own frames on (this module's frames are noise)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "<test>":
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))[-OUTPUT_LIMIT:]


def _execute(globals_: TestGlobals, code: str) -> Any:
    # Registered so that tracebacks (for instructors) show the failing line of the test.
    linecache.cache["<test>"] = (len(code), None, code.splitlines(True), "<test>")
    return _execute_tree(globals_, ast.parse(code, "<test>", "exec"))


def _execute_tree(globals_: TestGlobals, tree: ast.Module) -> Any:
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        tree.body.pop()
    else:
        last = None
    globals_.link.patches.watch(tree)
    exec(compile(tree, "<test>", "exec"), globals_)  # noqa: S102 - the instructor's test code
    if last is None:
        return None
    expression = ast.Expression(last.value)
    return eval(compile(expression, "<test>", "eval"), globals_)  # noqa: S307


class DoctestFailed(AssertionError):
    """An example's output is not what the doctest expects."""


def _run_doctest(globals_: TestGlobals, text: str) -> Any:
    """Run a doctest's examples in the test's globals, in turn; raise at the first whose
    output (or exception) is not what it expects. A value is shown by its trusted repr; a
    learner object's own repr is never asked for, so it can match nothing."""
    linecache.cache["<test>"] = (len(text), None, text.splitlines(True), "<test>")
    for example in pydoctest.DocTestParser().get_examples(text, "<test>"):
        flags = 0
        for flag, on in example.options.items():
            flags = flags | flag if on else flags & ~flag
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                tree = ast.parse(example.source, "<test>", "single")
                ast.increment_lineno(tree, example.lineno)
                value = _execute_tree(globals_, ast.Module(body=tree.body, type_ignores=[]))
                if value is not None:
                    print(_shown(value))
        except Exception as exc:
            if example.exc_msg is None:
                raise
            got = traceback.format_exception_only(type(exc), exc)[-1]
            if not _doctest_matches(example.exc_msg, got, flags):
                raise DoctestFailed(_doctest_report(example, got, example.exc_msg)) from None
            continue
        got = out.getvalue()
        if example.exc_msg is not None or not _doctest_matches(example.want, got, flags):
            raise DoctestFailed(_doctest_report(example, got, example.want))
    return None  # no value: a doctest passes or fails, never partly


def _shown(value: Any) -> str:
    if _holds_remote(value, 0):
        return "<an object from the notebook>"
    return _safe_str(value, use_repr=True)


def _doctest_matches(want: str, got: str, flags: int) -> bool:
    """doctest's own check, then the same on numpy 1's scalar reprs (np.float64(1.5) and
    np.True_ read as 1.5 and True: expected outputs saved with numpy 1 still match)."""
    checker = pydoctest.OutputChecker()
    return checker.check_output(want, got, flags) or checker.check_output(
        numpy1_reprs(want), numpy1_reprs(got), flags
    )


def _doctest_report(example: Any, got: str, want: str) -> str:
    source = "".join(">>> " + line for line in example.source.splitlines(True))
    return f"{source}Expected:\n{want or '(nothing)'}Got:\n{got or '(nothing)'}"


_NUMPY_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|complex|bool|str|bytes)_?\d*\(([^()]*)\)")
_NUMPY_BOOL = re.compile(r"\bnp\.(True|False)_")


def numpy1_reprs(text: str) -> str:
    """numpy 2 shows its scalars as np.float64(1.5), np.True_; numpy 1 as 1.5, True."""
    return _NUMPY_BOOL.sub(r"\1", _NUMPY_SCALAR.sub(r"\1", text))


def _describe_value(value: Any) -> dict[str, Any]:
    """The last expression's value: numeric for partial credit, repr for output checks."""
    numeric = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool | Remote):
        try:
            as_float = float(value)
            # NaN or infinity as a score earns nothing (nbgrader would choke on it)
            numeric = as_float if math.isfinite(as_float) else 0.0
        except (TypeError, ValueError):
            numeric = None
    text = None
    if value is not None and not _holds_remote(value, 0):
        text = _safe_str(value, use_repr=True)[:OUTPUT_LIMIT]
    if type(value).__name__ == "bool_":  # numpy's bool is not a number for partial credit
        numeric = None
    return {"value": numeric, "value_repr": text}


def _holds_remote(value: Any, depth: int) -> bool:
    if isinstance(value, Remote) or depth > 20:
        return True
    if type(value) in (list, tuple, set, frozenset):
        return any(_holds_remote(v, depth + 1) for v in value)
    if type(value) is dict:
        return any(
            _holds_remote(k, depth + 1) or _holds_remote(v, depth + 1) for k, v in value.items()
        )
    return False


def _safe_str(value: Any, *, use_repr: bool = False) -> str:
    try:
        return repr(value) if use_repr else str(value)
    except Exception as exc:  # a message that cannot be printed is still a failure to report
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"


def main(fd: int) -> None:
    """Entry point of a forked trusted process: serve the worker on ``fd``, then exit."""
    # A backstop against a flood of learner data: the worker's host must not run out.
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    random.seed()
    numpy = __import__("sys").modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    Child(socket.socket(fileno=fd)).serve()
