"""The gateway's own engine: llama.cpp's server as a managed child (gateway.engine).

Continuous batching lets concurrent learners share it; beyond its slots, up to
`max_waiting` requests wait their turn, and any more get a 503 with Retry-After at once,
so that a crowd never hangs on a queue nobody sees.
"""

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from gateway.backends.base import ChatParams, Completion, Emit, Message
from gateway.backends.upstream import UpstreamBackend
from gateway.engine.manager import EngineConfig, EngineDown
from gateway.errors import ApiError, upstream_unavailable

BUSY_RETRY_AFTER_S = 2


def engine_busy(limit: int) -> ApiError:
    return ApiError(
        503,
        f"The model is busy: {limit} requests are already running or waiting. "
        f"Try again in {BUSY_RETRY_AFTER_S} s.",
        type_="server_error",
        code="engine_busy",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
    )


class EngineHandle(Protocol):
    """What the backend needs of an engine (gateway.engine.manager.Engine)."""

    config: EngineConfig

    def wait_ready(self, timeout_s: float) -> Path: ...

    def stop(self) -> None: ...


class LlamaCppBackend:
    def __init__(
        self,
        engine: EngineHandle,
        *,
        model: str,
        max_waiting: int,
        ready_wait_s: float,
        timeout_s: float,
    ) -> None:
        self.engine = engine
        self.model = model
        self.limit = engine.config.slots + max_waiting
        self.ready_wait_s = ready_wait_s
        self.timeout_s = timeout_s
        self._in_flight = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _admitted(self) -> Iterator[UpstreamBackend]:
        with self._lock:
            if self._in_flight >= self.limit:
                raise engine_busy(self.limit)
            self._in_flight += 1
        try:
            yield self._client(self._socket())
        finally:
            with self._lock:
                self._in_flight -= 1

    def _socket(self) -> Path:
        try:
            return self.engine.wait_ready(self.ready_wait_s)
        except EngineDown as down:
            error = upstream_unavailable(f"The model {self.model!r} cannot answer now: {down}")
            if down.retry_after_s is not None:
                error.headers["Retry-After"] = str(down.retry_after_s)
            raise error from None

    def _client(self, socket: Path) -> UpstreamBackend:
        return UpstreamBackend(
            base_url="http://engine/v1",
            api_key="",
            model=self.model,
            timeout_s=self.timeout_s,
            unix_socket=socket,
        )

    def chat(self, messages: list[Message], params: ChatParams, emit: Emit | None) -> Completion:
        with self._admitted() as client:
            return client.chat(messages, params, emit)

    def complete(self, prompt: str, params: ChatParams, emit: Emit | None) -> Completion:
        with self._admitted() as client:
            return client.complete(prompt, params, emit)

    def close(self) -> None:
        self.engine.stop()
