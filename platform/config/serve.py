"""The web server: uvicorn, with limits against slow and numerous clients.

`python -m config.serve <uvicorn options>` takes the same options as `python -m uvicorn`,
and serves with uvicorn's h11 protocol given a deadline for each request head: uvicorn
closes idle keep-alive connections, but waits forever for a head that arrives a byte at a
time. The body's deadline, and its size, are config.edge's (around the application).
"""

import asyncio
import sys
from typing import Any

import uvicorn.config
from uvicorn.main import main
from uvicorn.protocols.http.h11_impl import H11Protocol

from config.env import env_int

# The uvicorn options the platform always runs with (see SERVER_OPTIONS below).
HEAD_TIMEOUT_S = env_int("WEB_HEAD_TIMEOUT_S", 10)
SERVER_OPTIONS = [
    "--http",
    "h11",
    # Idle keep-alive connections are closed after this many seconds.
    "--timeout-keep-alive",
    str(env_int("WEB_KEEP_ALIVE_S", 5)),
    # Past this many open connections (per process), new requests get 503 at once.
    "--limit-concurrency",
    str(env_int("WEB_MAX_CONNECTIONS", 1000)),
]


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol; each request head must arrive whole within HEAD_TIMEOUT_S of
    the connection opening or of the previous response ending, or the connection is closed."""

    head_timeout_s: float = HEAD_TIMEOUT_S
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._await_head()

    def on_response_complete(self) -> None:
        self._await_head()  # before: a pipelined head handled inside it cancels the timer
        super().on_response_complete()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a new request's head arrived whole
            self._cancel_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


# `--http h11` names this protocol (uvicorn's command line offers only its own names).
uvicorn.config.HTTP_PROTOCOLS["h11"] = "config.serve:DeadlineH11Protocol"

if __name__ == "__main__":
    sys.argv[1:] = [*sys.argv[1:], *SERVER_OPTIONS]
    main()
