"""A pre-imported trusted process that forks one fresh child per submission.

Starting Python and importing numpy and pandas costs hundreds of milliseconds; forking
a process that already did costs about one. The fork server starts from a clean
environment and never sees a test, an answer or a secret: it only forks.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

from sandbox import huge_pages

from . import child

# What instructors' notebooks import (their top-level imports are defined in the trusted
# process): importing scikit-learn there took 6.6 of the 7.6 s a wine-classifier grading
# took on a busy machine. Imported once here, each forked grader has them for free.
PRELOAD = (
    "numpy", "numpy.testing", "pandas", "unittest", "math",
    "scipy", "scipy.stats", "scipy.optimize", "scipy.linalg", "sympy",
    "matplotlib", "matplotlib.pyplot",
    "sklearn", "sklearn.base", "sklearn.datasets", "sklearn.model_selection",
    "sklearn.neighbors", "sklearn.pipeline", "sklearn.preprocessing", "sklearn.linear_model",
    "sklearn.metrics",
)  # fmt: skip
_PID = struct.Struct("!i")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class ForkServer:
    """Worker-side handle on the fork server process (started on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._spare: tuple[socket.socket, int] | None = None

    def spawn(self) -> tuple[socket.socket, int]:
        """A fresh trusted process: its control socket and its pid.

        One child is forked ahead of time, so a submission does not wait for the fork.
        """
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None:
            spare = self._spawn_retrying()
        threading.Thread(target=self._prepare_spare, daemon=True, name="trusted-fork").start()
        return spare

    def warm_up(self) -> None:
        """Start the fork server and fork the spare now, in the background: importing
        numpy and pandas takes seconds on a busy machine, better not on a submission."""
        threading.Thread(target=self._prepare_spare, daemon=True, name="trusted-fork").start()

    def _prepare_spare(self) -> None:
        with contextlib.suppress(OSError):
            child = self._spawn_retrying()
            with self._lock:
                kept = self._spare is None and self._ctrl is not None
                if kept:
                    self._spare = child
            if not kept:
                _discard(child)

    def _spawn_retrying(self) -> tuple[socket.socket, int]:
        with self._lock:
            for attempt in range(2):
                try:
                    return self._spawn_locked()
                except OSError:
                    self._stop_locked()
                    if attempt:
                        raise
            raise AssertionError("unreachable")

    def _spawn_locked(self) -> tuple[socket.socket, int]:
        if self._ctrl is None:
            self._start_locked()
        assert self._ctrl is not None
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self._ctrl, [b"F"], [theirs.fileno()])
            data = _recv_exact(self._ctrl, _PID.size)
        finally:
            theirs.close()
        return ours, _PID.unpack(data)[0]

    def _start_locked(self) -> None:
        ours, theirs = socket.socketpair()
        env = {
            "PATH": os.defpath,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "HOME": "/nonexistent",
        }
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from sandbox.trusted.forkserver import serve; serve(int(sys.argv[2]))"
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-s", "-c", code, _PACKAGE_ROOT, str(theirs.fileno())],
            env=env,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,
        )
        theirs.close()
        self._ctrl = ours

    def _stop_locked(self) -> None:
        if self._spare is not None:
            _discard(self._spare)
            self._spare = None
        if self._ctrl is not None:
            self._ctrl.close()
            self._ctrl = None
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop_locked()


def _discard(child: tuple[socket.socket, int]) -> None:
    child[0].close()  # the child sees EOF and exits
    with contextlib.suppress(ProcessLookupError):
        os.kill(child[1], signal.SIGKILL)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the trusted fork server exited")
        data += chunk
    return data


_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_server() -> ForkServer:
    """The process-wide fork server."""
    global _server
    with _server_lock:
        if _server is None:
            _server = ForkServer()
            atexit.register(_server.close)
        return _server


def serve(fd: int) -> None:
    """Fork server main loop (runs in its own process)."""
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            continue
    # What every child shares, in huge pages: a fork and an exit cost less (huge_pages).
    with open("/proc/self/maps") as maps:
        huge_pages.collapse(maps.read())
    ctrl = socket.socket(fileno=fd)
    # Children are reaped by the kernel: the worker kills them by pid if they hang.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        msg, fds, _, _ = socket.recv_fds(ctrl, 16, 1)
        if not msg or not fds:
            return
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                child.main(fds[0])
            finally:
                os._exit(0)
        os.close(fds[0])
        ctrl.sendall(_PID.pack(pid))
