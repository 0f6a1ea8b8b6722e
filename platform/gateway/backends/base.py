"""What every backend deals in: catalog entries, embeddings, chat parameters and
completions. Backends import these; the registry (gateway.backends) loads
the backends."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Message = dict[str, str]
Emit = Callable[[str], None]


@dataclass(frozen=True)
class CardInfo:
    """What the API needs to know of a catalog entry, detached from the ORM."""

    name: str
    kind: str
    backend: str
    location: str
    listing: dict[str, Any] = field(compare=False, default_factory=dict)
    # Pinned in the catalog for reproducible outputs ("" = not pinned): the engine refuses
    # to serve a model file or run an engine that differs.
    model_sha256: str = field(compare=False, default="")
    engine_version: str = field(compare=False, default="")


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # float32, one row per input
    prompt_tokens: int


@dataclass(frozen=True)
class ChatParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # OpenAI's response_format ({"type": "json_schema", "json_schema": {...}}), passed on.
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"
