"""The web server's edge (config.edge): size, nesting and time limits before Django reads."""

import asyncio
import json
import subprocess
import sys

import pytest

from config.edge import RequestGuard


class Inner:
    """An application that reads the whole body, as Django's handler does."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok:" + body[:20]})


def call(app, *, chunks, headers, stall=False):
    async def run():
        queue = list(chunks)
        sent = []

        async def receive():
            if not queue:
                if stall:
                    await asyncio.Event().wait()  # a client that never sends the rest
                return {"type": "http.disconnect"}
            piece = queue.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(queue) or stall}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers}
        await app(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], body

    return asyncio.run(run())


JSON = [(b"content-type", b"application/json")]
FORM = [(b"content-type", b"multipart/form-data; boundary=x")]


@pytest.fixture
def inner() -> Inner:
    return Inner()


@pytest.fixture
def guard(inner) -> RequestGuard:
    return RequestGuard(inner, max_bytes=1000, body_timeout_s=5)


def test_a_declared_length_over_the_limit_is_413_and_never_read(guard, inner) -> None:
    status, body = call(guard, chunks=[b"x" * 10], headers=[(b"content-length", b"50000000")])
    assert status == 413 and b"larger than" in body and inner.bodies == []


@pytest.mark.parametrize("headers", [JSON, FORM, []])
def test_an_undeclared_body_is_cut_off_once_over_the_limit(guard, inner, headers) -> None:
    status, body = call(guard, chunks=[b"a" * 600, b"b" * 600, b"c" * 600], headers=headers)
    assert status == 413 and b"larger than" in body
    assert inner.bodies == []


def test_json_nested_too_deep_is_400_before_any_view(guard, inner) -> None:
    status, body = call(guard, chunks=[b"[" * 400 + b"]" * 400], headers=JSON)
    assert status == 400
    assert "nested more than 64" in json.loads(body)["error"]
    assert inner.bodies == []


def test_a_body_that_does_not_arrive_in_time_is_408(inner) -> None:
    guard = RequestGuard(inner, max_bytes=1000, body_timeout_s=0.05)
    for headers in (JSON, FORM):
        status, body = call(guard, chunks=[b"{"], headers=headers, stall=True)
        assert status == 408 and b"did not arrive" in body
    assert inner.bodies == []


def test_good_requests_pass_whole(guard, inner) -> None:
    payload = json.dumps({"cells": [[{"a": 1}]]}).encode()
    assert call(guard, chunks=[payload[:5], payload[5:]], headers=JSON) == (
        200,
        b"ok:" + payload[:20],
    )
    assert call(guard, chunks=[b"--x\r\n", b"data"], headers=FORM)[0] == 200
    assert inner.bodies == [payload, b"--x\r\ndata"]


def test_the_site_is_served_behind_the_guard() -> None:
    from config.asgi import application

    assert isinstance(application, RequestGuard)


def test_a_web_worker_has_its_pages_loaded_before_its_first_request() -> None:
    # In a fresh process, as each web worker imports the application: the views and what
    # they import are loaded, and the URL table built, before anything is served.
    probe = (
        "import sys\n"
        "import config.asgi\n"
        "from django.urls import get_resolver\n"
        "print(all(m in sys.modules for m in ('courses.learn.views', 'courses.html', 'nbconvert')),"
        " bool(get_resolver()._populated))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["True", "True"]


def test_people_get_the_site_s_error_page_with_what_happened(guard) -> None:
    status, body = call(guard, chunks=[b"x"], headers=[(b"content-length", b"50000000")])
    page = body.decode()
    assert status == 413
    assert 'class="site-header"' in page and 'class="card narrow error-page"' in page
    assert "The request is too large" in page and "larger than 0 MB" in page
    assert 'href="/"' in page  # a way back


@pytest.mark.parametrize(
    "header",
    [(b"cookie", b"django_language=fr"), (b"accept-language", b"de-DE;q=0.9, fr-CA;q=0.8")],
)
def test_the_error_page_and_json_speak_the_reader_s_language(guard, header) -> None:
    status, body = call(guard, chunks=[b"x"], headers=[header, (b"content-length", b"50000000")])
    page = body.decode()
    assert status == 413 and '<html lang="fr">' in page
    assert "La requête est trop volumineuse" in page
    status, body = call(guard, chunks=[b"[" * 400 + b"]" * 400], headers=[*JSON, header])
    assert status == 400 and "imbriqué" in json.loads(body)["error"]
