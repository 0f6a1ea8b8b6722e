"""The web server's edge: what a request may be before Django reads it.

Django's ASGI handler reads the whole body before any middleware or CSRF check runs, so
the limits are enforced here, around it: a body over REQUEST_MAX_BYTES gets 413 without
being read (Content-Length) or as soon as it passes the limit (chunked); a JSON body nested
deeper than campus.payloads allows gets 400 before any view parses it; a client that takes
longer than REQUEST_BODY_TIMEOUT_S to send its body is answered 408 and dropped.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.http.cookie import parse_cookie
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from campus.payloads import MAX_JSON_DEPTH, json_depth_exceeds

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

# Bodies of these types are Django's to parse (uploads may be large and are spooled to
# disk); any other body is small data a view will parse, so it is read here and checked.
FORM_TYPES = (b"multipart/form-data", b"application/x-www-form-urlencoded")


class Refused(Exception):
    """A request refused at the edge; `message` is lazy, translated when answered."""

    def __init__(self, status: int, message: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Headings of the error page, by status.
HEADINGS = {
    400: _("This request cannot be read"),
    408: _("The request took too long to arrive"),
    413: _("The request is too large"),
}


def too_large(max_bytes: int) -> Refused:
    return Refused(
        413,
        format_lazy(
            _(
                "The request is larger than {mb} MB, the most this site accepts. "
                "Send a smaller file or notebook."
            ),
            mb=max_bytes // (1024 * 1024),
        ),
    )


def language(headers: dict[bytes, bytes]) -> str:
    """The reader's language as Django's middleware would choose it: cookie, then the
    browser's Accept-Language, then the site's default (Django needs a request for this)."""
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    wanted = [cookies.get(settings.LANGUAGE_COOKIE_NAME, "")]
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    wanted += [part.split(";")[0].strip() for part in accept.split(",")]
    for code in wanted:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def answer(error: Refused, *, as_json: bool) -> tuple[bytes, bytes]:
    """The body and content type: JSON for scripts, the site's error page for people."""
    if as_json:
        return json.dumps({"error": str(error.message)}).encode(), b"application/json"
    page = render_to_string(
        "errors/edge.html",
        {
            "code": error.status,
            "heading": HEADINGS.get(error.status, error.message),
            "message": error.message,
        },
    )
    return page.encode(), b"text/html; charset=utf-8"


async def refuse(send: Send, error: Refused, *, as_json: bool, lang: str) -> None:
    """Answer `error` in the reader's language and the form they read."""
    with translation.override(lang):
        body, content_type = answer(error, as_json=as_json)
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware around the Django application (config.asgi)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int | None = None,
        body_timeout_s: float | None = None,
        max_json_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout_s = body_timeout_s
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes or settings.REQUEST_MAX_BYTES
        timeout_s = self.body_timeout_s or settings.REQUEST_BODY_TIMEOUT_S
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        as_json = b"json" in content_type or b"json" in headers.get(b"accept", b"")
        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > max_bytes):
                raise too_large(max_bytes)
            if content_type in FORM_TYPES:
                receive = self._counted(receive, max_bytes, timeout_s)
            else:
                body = await self._read(receive, max_bytes, timeout_s)
                if json_depth_exceeds(body, max_depth=self.max_json_depth):
                    raise Refused(
                        400,
                        format_lazy(
                            _(
                                "The request's JSON is nested more than {depth} levels deep; "
                                "this site never needs that much."
                            ),
                            depth=self.max_json_depth,
                        ),
                    )
                receive = _replay(body, receive)
        except Refused as error:
            await refuse(send, error, as_json=as_json, lang=language(headers))
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Refused as error:  # raised by a counted form body, inside Django's read
            if not started:
                await refuse(send, error, as_json=as_json, lang=language(headers))

    async def _read(self, receive: Receive, max_bytes: int, timeout_s: float) -> bytes:
        body = bytearray()
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        break
                    body += message.get("body", b"")
                    if len(body) > max_bytes:
                        raise too_large(max_bytes)
                    if not message.get("more_body"):
                        break
        except TimeoutError:
            raise _slow(timeout_s) from None
        return bytes(body)

    def _counted(self, receive: Receive, max_bytes: int, timeout_s: float) -> Receive:
        """`receive` for a form body that Django spools: counted, and timed as a whole."""
        seen = 0
        deadline = asyncio.get_running_loop().time() + timeout_s

        async def counted() -> Message:
            nonlocal seen
            left = deadline - asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(max(left, 0)):
                    message = await receive()
            except TimeoutError:
                raise _slow(timeout_s) from None
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise too_large(max_bytes)
            return message

        return counted


def _slow(timeout_s: float) -> Refused:
    return Refused(
        408,
        format_lazy(
            _(
                "The request's body did not arrive within {seconds} s. "
                "Check your connection and send it again."
            ),
            seconds=f"{timeout_s:g}",
        ),
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
