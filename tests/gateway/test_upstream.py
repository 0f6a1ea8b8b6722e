"""An OpenAI-compatible upstream server (vLLM, Ollama, TGI) behind the gateway."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from config.embedded_redis import free_port
from gateway.models import BackendKind
from gateway.services import grant_register
from tests.support.factories import CourseFactory, UserFactory
from tests.support.gateway import chat_card, tokens_used_today

pytestmark = pytest.mark.xdist_group("gateway-models")
KEY = "upstream-secret"


class FakeUpstream(BaseHTTPRequestHandler):
    """Answers like vLLM would, and only with the right key."""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self._json(401, {"error": {"message": "bad key"}})
        elif body.get("stream"):
            self._stream(body)
        else:
            message = {"role": "assistant", "content": f"upstream {body['model']} says hi"}
            self._json(
                200,
                {
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 4},
                },
            )

    def _json(self, status: int, data: object) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, body: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["up", "stream", "ed"]:
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        usage = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3}}
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def learner(gateway):
    user = UserFactory()
    grant_register(uid=os.getuid(), user_id=user.id, course_id=CourseFactory().id, ttl_s=60)
    return user


def ask(gateway, **extra):
    request = {"model": "big-open-llm", "messages": [{"role": "user", "content": "hi"}]}
    return gateway.call("POST", "/v1/chat/completions", request | extra)


def test_chat_is_relayed_to_the_upstream_with_its_key_and_usage_counted(
    gateway, learner, upstream, settings
):
    settings.GATEWAY_UPSTREAM_URL, settings.GATEWAY_UPSTREAM_API_KEY = upstream, KEY
    chat_card("big-open-llm", backend=BackendKind.UPSTREAM, location="org/model-7b")
    status, body = ask(gateway)
    assert status == 200
    assert body["choices"][0]["message"]["content"] == "upstream org/model-7b says hi"
    assert body["model"] == "big-open-llm"
    assert tokens_used_today(learner.id) == 11


def test_streamed_upstream_chat_is_rechunked_in_openais_format(
    gateway, learner, upstream, settings
):
    settings.GATEWAY_UPSTREAM_URL, settings.GATEWAY_UPSTREAM_API_KEY = upstream, KEY
    chat_card("big-open-llm", backend=BackendKind.UPSTREAM)
    conn = gateway.connection("socket")
    request = {
        "model": "big-open-llm",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    conn.request("POST", "/v1/chat/completions", json.dumps(request))
    text = conn.getresponse().read().decode()
    chunks = [json.loads(e[6:]) for e in text.split("\n\n") if e.startswith("data: {")]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "upstreamed"
    assert text.rstrip().endswith("data: [DONE]")


def test_an_upstream_that_is_down_is_a_503(gateway, learner, settings):
    settings.GATEWAY_UPSTREAM_URL = f"http://127.0.0.1:{free_port()}/v1"
    chat_card("big-open-llm", backend=BackendKind.UPSTREAM)
    status, body = ask(gateway)
    assert status == 503
    assert body["error"]["code"] == "upstream_unavailable"
    streamed, _ = ask(gateway, stream=True)
    assert streamed == 503


def test_an_upstream_refusing_our_key_is_a_503_not_the_learners_fault(
    gateway, learner, upstream, settings
):
    settings.GATEWAY_UPSTREAM_URL, settings.GATEWAY_UPSTREAM_API_KEY = upstream, "wrong"
    chat_card("big-open-llm", backend=BackendKind.UPSTREAM)
    status, _ = ask(gateway)
    assert status == 503
