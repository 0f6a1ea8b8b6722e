"""A grading kernel's loop: ipykernel's kernel and the IPython shell, driven without
ipykernel's event loop and threads.

Bound beside zygote_server.py (standard library at import; ipykernel and zmq are reached
through the kernel application once the kernel's environment is set). Only a zygote of
grading kernels uses it, and only with the ipykernel version whose start-up the zygote
copies (zygote_server.PRE_INITIALIZED_VERSION).

A stock ipykernel 7 kernel runs an asyncio loop, an IOPub thread that every output crosses
(a thread switch and a pipe per message) and a control thread with a loop of its own. A
grading kernel needs none of it: one client sends it one request at a time and waits for
the idle status. Here the main thread reads the shell socket and runs each request through
ipykernel's own handlers (execute through `do_execute`, which runs the cell synchronously
when no event loop is running); outputs are sent from the thread that makes them, under one
lock; a control thread, blocked in zmq until a request comes, answers interrupts (SIGINT to
the kernel, as ipykernel's message mode does) and shutdowns.

What differs from a stock kernel, all of it invisible to the pipeline:
- stdout and stderr are sent when a piece of CHUNK_CHARS characters is full, when flushed
  and when a request ends (not every 0.2 s); output written to file descriptors 1 and 2
  themselves (a C library, a child process writing to the inherited descriptor) goes to the
  kernel's log, not to the notebook;
- no stdin channel (graders never allow input: `input()` raises as it does with
  allow_stdin false), no heartbeat, no debugger, no kernel subshells;
- execute requests queued behind one that failed are not aborted (the pipeline sends one
  request at a time);
- no busy status before a request (the worker waits for its reply and the idle status
  after it); the idle status after a cell that called exit() says `"exiting": true`.
"""

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

# At most 4 bytes of UTF-8 per character: 64 KiB per message, far below what the worker
# receives (kernel_outstream.py splits a stock kernel's output the same way).
CHUNK_CHARS = 16 * 1024
SUBSCRIPTION_WAIT_MS = 10_000


class LockedSocket:
    """A zmq socket any thread may send on, one message at a time. Re-entrant, as ipykernel's
    stream buffers are: a learner's signal handler that prints while this thread sends must
    not wait on itself."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.lock = threading.RLock()

    def send_multipart(self, parts: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return self.socket.send_multipart(parts, *args, **kwargs)


class Stream(io.TextIOBase):
    """sys.stdout or sys.stderr: text sent on IOPub as stream messages, in pieces of at most
    CHUNK_CHARS characters. Any thread may write."""

    def __init__(self, session: Any, socket: LockedSocket, name: str) -> None:
        super().__init__()
        self.session = session
        self.socket = socket
        self.name = name
        self.topic = f"stream.{name}".encode()
        self.parent_header: dict[str, Any] = {}
        self._pending: list[str] = []
        self._size = 0
        self._lock = threading.RLock()  # see LockedSocket
        self._sending = False  # by the thread that holds the lock

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def set_parent(self, parent: dict[str, Any]) -> None:
        self.flush()
        self.parent_header = parent

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        """The descriptor under the stream (the kernel's log): code that hands sys.stdout to
        a child process or a C library works, as in a stock kernel, its output logged."""
        return 1 if self.name == "stdout" else 2

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        size = len(text)
        with self._lock:
            self._pending.append(text)
            self._size += size
            if self._size >= CHUNK_CHARS:
                self._send(whole_chunks_only=True)
        return size

    def flush(self) -> None:
        with self._lock:
            if self._size:
                self._send(whole_chunks_only=False)

    def _send(self, *, whole_chunks_only: bool) -> None:
        """Send what is pending (only whole chunks, or all). A write made meanwhile by this
        thread (a signal handler that prints while a piece is sent) is only kept: it goes
        after what was pending, in this loop or later, never sent twice or out of order."""
        if self._sending:
            return
        self._sending = True
        try:
            while self._size >= (CHUNK_CHARS if whole_chunks_only else 1):
                # Python runs a signal handler at a call or a loop's turn, never within the
                # next three lines: what a handler writes from then on lands in the new
                # list, after what is taken here.
                pending = self._pending
                self._pending = []
                self._size = 0
                text = "".join(pending)
                end = len(text) - len(text) % CHUNK_CHARS if whole_chunks_only else len(text)
                rest = text[end:]
                if rest:
                    size = len(rest)
                    self._pending.insert(0, rest)
                    self._size += size
                for start in range(0, end, CHUNK_CHARS):
                    piece = text[start : min(end, start + CHUNK_CHARS)]
                    self.session.send(
                        self.socket,
                        "stream",
                        {"name": self.name, "text": piece},
                        parent=self.parent_header,
                        ident=self.topic,
                    )
        finally:
            self._sending = False


def bind(app: Any, kind: int, port: int) -> Any:
    socket = app.context.socket(kind)
    socket.linger = 1000
    app._bind_socket(socket, port)
    return socket


def init_sockets(app: Any) -> None:
    """IPKernelApp.init_sockets, with the sockets this kernel uses and no IOPub thread."""
    import zmq

    app.context = zmq.Context()
    app.shell_socket = bind(app, zmq.ROUTER, app.shell_port)
    app.shell_socket.router_handover = 1
    app.control_socket = bind(app, zmq.ROUTER, app.control_port)
    app.control_socket.router_handover = 1
    # XPUB: the worker's subscription can be waited for (serve), as PUB would drop what is
    # published before it arrives.
    app.iopub_socket = LockedSocket(bind(app, zmq.XPUB, app.iopub_port))
    app.stdin_socket = None
    app.iopub_thread = app.control_thread = app.shell_channel_thread = None


def init_io(app: Any) -> None:
    """IPKernelApp.init_io with this module's streams."""
    from ipykernel.displayhook import ZMQDisplayHook

    sys.stdout = Stream(app.session, app.iopub_socket, "stdout")
    sys.stderr = Stream(app.session, app.iopub_socket, "stderr")
    app.displayhook = ZMQDisplayHook(app.session, app.iopub_socket)
    sys.displayhook = app.displayhook
    app.patch_io()


def init_kernel(app: Any) -> None:
    """IPKernelApp.init_kernel without streams, threads or debugger sockets."""
    kernel = app.kernel_class.instance(
        parent=app,
        session=app.session,
        iopub_socket=app.iopub_socket,
        stdin_socket=None,
        log=app.log,
        profile_dir=app.profile_dir,
        user_ns=app.user_ns,
    )
    app.kernel = kernel
    app.displayhook.get_execution_count = lambda: kernel.execution_count


def finished(coroutine: Any) -> Any:
    """The value of an ipykernel handler that never waits (without a running event loop,
    `do_execute` runs the cell synchronously)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("an ipykernel handler waited for an event loop")


def execute(kernel: Any, socket: Any, idents: list[bytes], parent: dict[str, Any]) -> None:
    """ipykernel's execute_request, run to its end on this thread."""
    from ipykernel.jsonutil import json_clean

    content = parent["content"]
    code, silent = content["code"], bool(content.get("silent", False))
    metadata = kernel.init_metadata(parent)
    if not silent:
        kernel._publish_execute_input(code, parent, kernel.execution_count)
    cell_meta = parent.get("metadata") or {}
    kernel.pre_handler_hook()  # SIGINT raises KeyboardInterrupt (kernel_interrupt.py)
    try:
        reply = finished(
            kernel.do_execute(
                code=code,
                silent=silent,
                store_history=content.get("store_history", not silent),
                user_expressions=content.get("user_expressions", {}),
                allow_stdin=False,
                cell_meta=cell_meta,
                cell_id=cell_meta.get("cellId") if isinstance(cell_meta, dict) else None,
            )
        )
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    flush_streams()
    reply = json_clean(reply)
    metadata = kernel.finish_metadata(parent, metadata, reply)
    kernel.session.send(socket, "execute_reply", reply, parent, metadata=metadata, ident=idents)


def handle(kernel: Any, socket: Any, idents: list[bytes], parent: dict[str, Any]) -> None:
    """One shell request, then the idle status, as ipykernel's dispatch (without its busy
    status, which nobody waits for)."""
    msg_type = parent["header"].get("msg_type")
    kernel.set_parent(idents, parent, "shell")
    try:
        if msg_type == "execute_request":
            execute(kernel, socket, idents, parent)
        elif msg_type == "shutdown_request":
            shut_down(kernel, socket, idents, parent)
        elif msg_type in kernel.shell_handlers:
            result = kernel.shell_handlers[msg_type](socket, idents, parent)
            if hasattr(result, "send"):
                finished(result)
        else:
            kernel.log.warning("Unknown message type: %r", msg_type)
    except KeyboardInterrupt:
        # An interrupt that came once the cell had ended, before SIGINT was ignored again:
        # the reply may be lost, the idle status (which the worker ends a cell at) is not.
        kernel.log.warning("Interrupted outside the cell: %r", msg_type)
    except Exception:
        kernel.log.exception("Exception in message handler:")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # had the interrupt come in execute's own
        flush_streams()
        publish_idle(kernel, parent)


def publish_idle(kernel: Any, parent: dict[str, Any]) -> None:
    """The idle status that ends a request, as ipykernel publishes it; marked `exiting` when
    the learner's exit() ends the kernel next (serve_shell): the worker then knows that its
    connection closing lost nothing (sandbox/outputs.py)."""
    if not kernel.shell.exit_now:
        kernel._publish_status("idle", "shell", parent)
        return
    content = {"execution_state": "idle", "exiting": True}
    kernel.session.send(
        kernel.iopub_socket, "status", content, parent=parent, ident=kernel._topic("status")
    )


def flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        # learner code may have replaced or broken its own streams
        with contextlib.suppress(Exception):
            stream.flush()


def shut_down(kernel: Any, socket: Any, idents: list[bytes], parent: dict[str, Any]) -> NoReturn:
    content = {"status": "ok", "restart": bool(parent["content"].get("restart", False))}
    kernel.session.send(socket, "shutdown_reply", content, parent, ident=idents)
    flush_streams()
    os._exit(0)


def serve_control(kernel: Any, socket: Any) -> None:
    """The control channel, on a thread of its own: it answers while a cell runs."""
    from ipykernel.jsonutil import json_clean

    for idents, parent in requests(kernel, socket):
        msg_type = parent["header"].get("msg_type")
        if msg_type == "interrupt_request":
            kernel._send_interrupt_children()
            kernel.session.send(socket, "interrupt_reply", {"status": "ok"}, parent, ident=idents)
        elif msg_type == "shutdown_request":
            shut_down(kernel, socket, idents, parent)
        elif msg_type == "kernel_info_request":
            info = json_clean(kernel.kernel_info)
            kernel.session.send(socket, "kernel_info_reply", info, parent, ident=idents)
    socket.close(linger=0)  # the kernel is ending (exit_after_sending)


def serve(app: Any) -> NoReturn:
    """Answer requests until the worker kills this kernel (or asks it to shut down)."""
    kernel = app.kernel
    # The worker connected before this kernel bound its sockets: its subscription comes
    # within milliseconds. Until it does, what is published (the first status) is lost.
    if app.iopub_socket.socket.poll(SUBSCRIPTION_WAIT_MS):
        app.iopub_socket.socket.recv()
    threading.Thread(
        target=serve_control, args=(kernel, app.control_socket), daemon=True, name="control"
    ).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Threads the learner starts find the shell's parent request in this context.
    kernel._shell_context.run(serve_shell, kernel, app.shell_socket)
    os._exit(0)


def exit_after_sending(kernel: Any) -> NoReturn:
    """End the kernel once what it sent (the reply, the idle status) has left: terminating
    the context waits for that, up to the sockets' linger time. Each socket is closed by the
    thread that uses it (zmq sockets are not thread-safe): the control thread closes its own
    when the context's termination wakes it."""
    flush_streams()
    app = kernel.parent
    app.shell_socket.close(linger=1000)
    with app.iopub_socket.lock:  # a learner's thread may be printing
        app.iopub_socket.socket.close(linger=1000)
    app.context.term()
    os._exit(0)


def requests(kernel: Any, socket: Any) -> Iterator[tuple[list[bytes], dict[str, Any]]]:
    """The requests that come on `socket`, signed with this kernel's key; they end when the
    kernel's context is terminated."""
    import zmq

    while True:
        try:
            idents, parent = kernel.session.recv(socket, mode=0)
        except ValueError:  # not a message signed with this kernel's key
            continue
        except zmq.ContextTerminated:
            return
        if parent is not None:
            yield idents, parent


def serve_shell(kernel: Any, socket: Any) -> None:
    for idents, parent in requests(kernel, socket):
        handle(kernel, socket, idents, parent)
        if kernel.shell.exit_now:  # the learner's exit() or quit(): a stock kernel stops too
            exit_after_sending(kernel)
