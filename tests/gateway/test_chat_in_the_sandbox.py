"""The chat model from a learner's real sandboxed kernel (bubblewrap, slot uid, no network)
through the gateway's socket: open_models.chat, the standard openai package unchanged, and
streamed pieces that reach the worker while the model is still writing."""

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from courses.grading.kernels import LearnerKernel
from gateway.backends import CardInfo
from gateway.backends.llamacpp import LlamaCppBackend
from gateway.models import BackendKind, ModelKind
from sandbox import Limits, launch
from tests.gateway.test_engine import StandInEngine
from tests.support.factories import UserFactory
from tests.support.gateway import SMOLLM2, chat_card

pytestmark = [pytest.mark.xdist_group("gateway-sandbox")]
LIMITS = Limits(cell_timeout_s=120, total_timeout_s=300)


@pytest.fixture
def kernel(chat_gateway, monkeypatch) -> Iterator[Any]:
    monkeypatch.setenv("SANDBOX_GATEWAY_DIR", str(chat_gateway.socket.parent))
    learner = LearnerKernel(
        launch.start_kernel(limits=LIMITS), user_id=UserFactory().pk, course_id=None
    )
    yield learner
    learner.shutdown()


def text_of(result) -> str:
    return "".join(o.get("text", "") for o in result.outputs)


CHATS = f"""
import json, open_models, openai
question = [{{"role": "user", "content": "Name one colour."}}]
ours = open_models.chat(question, max_tokens=8, temperature=0)
client = open_models.OpenAI()
theirs = client.chat.completions.create(
    model="{SMOLLM2}", messages=question, max_tokens=8, temperature=0
).choices[0].message.content
module_level = openai.chat.completions.create(
    model="{SMOLLM2}", messages=question, max_tokens=8, temperature=0
).choices[0].message.content
pieces = list(open_models.chat(question, max_tokens=8, temperature=0, stream=True))
print(json.dumps([ours, theirs, module_level, pieces]))
"""


def test_open_models_and_the_openai_package_chat_from_the_sandbox(kernel):
    result = kernel.execute(CHATS)
    assert result.status == "ok", text_of(result)
    ours, theirs, module_level, pieces = json.loads(text_of(result))
    assert ours and ours == theirs == module_level == "".join(pieces)
    assert len(pieces) > 1


STREAMS = """
import open_models
for piece in open_models.chat("Go", model="held-llm", stream=True):
    print(piece, end="", flush=True)
"""


def test_streamed_pieces_reach_the_worker_while_the_model_still_writes(
    chat_gateway, kernel, tmp_path
):
    # given a model that writes "first", then waits until the test lets it finish
    release = threading.Event()

    class Held(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def address_string(self) -> str:
            return "engine"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ("first", "-second"):
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                release.wait(120)
            usage = {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
            self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())

    server = socketserver.ThreadingUnixStreamServer(str(tmp_path / "engine.sock"), Held)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend = LlamaCppBackend(
        StandInEngine(tmp_path / "engine.sock"),
        model="held-llm",
        max_waiting=1,
        ready_wait_s=1,
        timeout_s=120,
    )
    chat_card("held-llm", backend=BackendKind.LLAMA_CPP)
    chat_gateway.process.registry.add(
        CardInfo("held-llm", ModelKind.CHAT, BackendKind.LLAMA_CPP, ""), backend
    )
    seen: list[str] = []

    def on_output(output: dict[str, Any]) -> None:
        seen.append(output.get("text", ""))
        if "first" in "".join(seen):
            release.set()  # the first piece is out before the model wrote the rest

    try:
        # when the learner's cell streams the reply
        result = kernel.execute(STREAMS, on_output=on_output)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
    # then the first piece was printed while the model was held, and all of it arrived
    assert result.status == "ok", text_of(result)
    assert "".join(seen) == "first-second"
    assert seen[0] == "first"
