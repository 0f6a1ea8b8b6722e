"""The gateway server's edge: limits on connections and on how slowly a request may arrive.

Kept apart from the HTTP machinery (httpserver.py) so that the policy reads in one place:
- at most GATEWAY_MAX_CONNECTIONS open at once (per listening socket); one more is closed
  at once instead of queueing behind the others;
- a request's head and body must arrive within GATEWAY_REQUEST_TIMEOUT_S of its first byte
  being awaited (an idle keep-alive connection is closed after the same time): a client
  that sends a byte now and then holds nothing for long;
- a body over GATEWAY_MAX_BODY_BYTES is answered 413, one nested too deep 400
  (campus.payloads, through gateway.parsing).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from django.conf import settings

from gateway.errors import ApiError

T = TypeVar("T")


class SlowClient(Exception):
    pass


def body_too_large(max_body: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than {max_body} bytes, the most the gateway accepts.",
        type_="invalid_request_error",
        code="request_too_large",
    )


def request_timeout() -> ApiError:
    return ApiError(
        408,
        f"The request did not arrive within {settings.GATEWAY_REQUEST_TIMEOUT_S:g} s.",
        type_="invalid_request_error",
        code="request_timeout",
    )


async def within_request_deadline(read: Awaitable[T]) -> T:
    """`read` (one whole request), or SlowClient once GATEWAY_REQUEST_TIMEOUT_S is over."""
    try:
        async with asyncio.timeout(settings.GATEWAY_REQUEST_TIMEOUT_S):
            return await read
    except TimeoutError:
        raise SlowClient from None


class ConnectionSlots:
    """How many connections a listening socket holds open at once."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit if limit is not None else settings.GATEWAY_MAX_CONNECTIONS
        self.open = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """Yields whether the connection may be served; it holds a slot until it ends."""
        if self.open >= self.limit:
            yield False
            return
        self.open += 1
        try:
            yield True
        finally:
            self.open -= 1
