"""Start, watch and stop the engine child; tell callers when it is ready.

The model loads in the background: the gateway listens (and answers /healthz) at once, and
a chat request that comes while the engine loads waits a bounded time, then gets a 503 with
Retry-After. An engine that dies after it was ready is started again; one that cannot load
(wrong file, wrong hash, wrong engine version) stays down and says why.
"""

import contextlib
import ctypes
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.engine.files import engine_version, file_sha256

log = logging.getLogger(__name__)
CHILD = Path(__file__).with_name("child.py")
RESTART_DELAY_S = 1.0
STOP_GRACE_S = 5.0
LOG_TAIL_BYTES = 2000
# llama.cpp's threads are OpenMP's: by default an idle one spins, and on a busy machine a
# spinning thread holds the core that the thread it waits for needs (2 threads were several
# times slower than 1 there); passive ones sleep.
THREADS_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


@dataclass(frozen=True)
class EngineConfig:
    model: Path
    slots: int = 4
    context: int = 2048  # tokens per slot
    threads: int = 1  # one token at a time
    batch_threads: int = 1  # several tokens: prompts, or sequences decoded together
    start_timeout_s: float = 300.0
    # Pinned in the catalog: a file or an engine that differs is refused ("" = unchecked).
    sha256: str = ""
    version: str = ""
    log_path: Path | None = None


class EngineDown(Exception):
    """The engine cannot serve: `retry_after_s` is set while it is (re)starting."""

    def __init__(self, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _die_with_gateway() -> None:
    # PR_SET_PDEATHSIG: the kernel kills the engine if the thread that started it ends.
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


class Engine:
    """llama.cpp's server in a child process, on `socket` in a folder only we can enter."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.folder = Path(tempfile.mkdtemp(prefix="gateway-engine-"))  # mode 0700
        self.socket = self.folder / "engine.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._state = threading.Condition()
        self._ready = False
        self._failure: str | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start loading in the background; returns at once."""
        self._thread = threading.Thread(target=self._supervise, name="gateway-engine", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout_s: float) -> Path:
        """The engine's socket once it serves; EngineDown if it failed or is still loading."""
        with self._state:
            self._state.wait_for(lambda: self._ready or self._failure is not None, timeout_s)
            if self._failure is not None:
                raise EngineDown(self._failure)
            if not self._ready:
                raise EngineDown("The model is still loading.", retry_after_s=5)
            return self.socket

    def stop(self) -> None:
        with self._state:
            was_ready = self._ready
            self._stopping = True
            self._ready = False
            self._state.notify_all()
        process = self.process
        if process is not None and process.poll() is None:
            if not was_ready:
                process.kill()  # still loading: nothing to finish
            elif process.stdin:
                with contextlib.suppress(OSError):
                    process.stdin.close()  # the child's signal to leave
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(STOP_GRACE_S)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _set(self, *, ready: bool, failure: str | None = None) -> None:
        with self._state:
            self._ready = ready
            self._failure = failure
            self._state.notify_all()

    def _supervise(self) -> None:
        try:
            self._check_pins()
        except EngineDown as error:
            log.error("%s", error)
            self._set(ready=False, failure=str(error))
            return
        while not self._stopping:
            try:
                process = self._launch()
            except EngineDown as error:
                if self._stopping:
                    return  # stopped while it loaded: stop() killed it, nothing failed
                log.error("%s", error)
                self._set(ready=False, failure=str(error))
                return
            self._set(ready=True)
            log.info("Engine ready on %s (start %d)", self.socket, self.starts)
            process.wait()
            self._set(ready=False)
            if not self._stopping:
                log.error("The engine exited (%s); starting it again", process.returncode)
                time.sleep(RESTART_DELAY_S)

    def _check_pins(self) -> None:
        config = self.config
        if not config.model.is_file():
            raise EngineDown(f"The model file {config.model} does not exist.")
        if config.version and config.version != (installed := engine_version()):
            raise EngineDown(
                f"The engine installed ({installed}) is not the one pinned in the catalog "
                f"({config.version}): outputs would not be reproducible. Install the pinned "
                "one, or update the model's catalog entry."
            )
        if config.sha256 and config.sha256 != (actual := file_sha256(config.model)):
            raise EngineDown(
                f"The model file {config.model} has sha256 {actual}, not the {config.sha256} "
                "pinned in the catalog: it was changed or replaced."
            )

    def _launch(self) -> subprocess.Popen[bytes]:
        config = self.config
        self.socket.unlink(missing_ok=True)
        argv = [sys.executable, "-I", str(CHILD), "--model", str(config.model)]
        argv += ["--socket", str(self.socket), "--slots", str(config.slots)]
        argv += ["--context", str(config.context), "--threads", str(config.threads)]
        argv += ["--batch-threads", str(config.batch_threads)]
        if config.log_path:
            config.log_path.parent.mkdir(parents=True, exist_ok=True)
        stderr = config.log_path.open("ab") if config.log_path else subprocess.DEVNULL
        try:
            self.process = process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, **THREADS_ENV},
                preexec_fn=_die_with_gateway,
            )
        finally:
            if config.log_path:
                stderr.close()  # type: ignore[union-attr]
        self.starts += 1
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], config.start_timeout_s)
        line = process.stdout.readline() if readable else b""
        if line.strip() != b"ready":
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
            raise EngineDown(f"The engine did not start. {self._log_tail()}".strip())
        return process

    def _log_tail(self) -> str:
        path = self.config.log_path
        if path is None or not path.is_file():
            return ""
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            return "Its log ends with: " + handle.read().decode(errors="replace")
