"""Open AI models served by the platform, from your notebook.

    import open_models
    open_models.models()                            # what you may use, with licenses
    vectors = open_models.embed(["a sentence", "another one"])
    open_models.cosine(vectors[0], vectors[1])
    open_models.chat("Explain overfitting in one sentence.", temperature=0, max_tokens=60)
    for piece in open_models.chat("Tell me about stars.", stream=True):
        print(piece, end="", flush=True)

Inside a course sandbox the platform's gateway is reached through a unix socket and knows
who you are without any key. `open_models.OpenAI()` returns a client of the standard `openai`
package talking to it; once this module is imported, `import openai` is configured too, so
`openai.chat.completions.create(...)` works unchanged.
Outside the platform set OPEN_MODELS_URL (e.g. http://127.0.0.1:8001) and OPEN_MODELS_API_KEY
(a personal token from your API tokens page).

This file uses only the standard library.
"""

import array
import base64
import http.client
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import math
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

SOCKET = os.environ.get("OPEN_MODELS_SOCKET", "/run/gateway/gateway.sock")
URL = os.environ.get("OPEN_MODELS_URL", "")
API_KEY = os.environ.get("OPEN_MODELS_API_KEY", "")
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_CHAT_MODEL = "SmolLM2-135M-Instruct"
TIMEOUT_S = float(os.environ.get("OPEN_MODELS_TIMEOUT_S", "300"))
BUSY_RETRIES = 6
MAX_RETRY_AFTER_S = 10

__all__ = [
    "GatewayError",
    "ModelServiceUnavailable",
    "OpenAI",
    "chat",
    "complete",
    "configure_openai",
    "cosine",
    "embed",
    "models",
]


class GatewayError(Exception):
    """The gateway said no: `status` is the HTTP status, `code` OpenAI's error code."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ModelServiceUnavailable(GatewayError):
    """The model service cannot be reached (it is restarting): try again in a moment.
    Grading treats it as the platform's fault, not the learner's."""

    def __init__(self, reason: object) -> None:
        super().__init__(
            503, f"the model service is restarting; try again in a moment ({reason})", None
        )


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("gateway", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


_local = threading.local()


def _new_connection() -> http.client.HTTPConnection:
    if URL:
        parts = urllib.parse.urlsplit(URL)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return cls(parts.netloc, timeout=TIMEOUT_S)
    return _UnixConnection(SOCKET, TIMEOUT_S)


def _request(method: str, path: str, body: Any = None) -> http.client.HTTPResponse:
    headers = {"Content-Type": "application/json"}
    if API_KEY:
        headers["Authorization"] = f"Bearer {API_KEY}"
    payload = None if body is None else json.dumps(body).encode()
    # A busy or loading model answers 503 with Retry-After: wait as told, a few times.
    for _ in range(BUSY_RETRIES):
        response = _send(method, path, payload, headers)
        wait = response.getheader("Retry-After") if response.status == 503 else None
        if wait is None or not wait.isdigit() or int(wait) > MAX_RETRY_AFTER_S:
            break
        response.read()
        time.sleep(int(wait))
    if response.status >= 400:
        _raise(response)
    return response


def _send(
    method: str, path: str, payload: bytes | None, headers: dict[str, str]
) -> http.client.HTTPResponse:
    # Keep one connection per thread; a connection the server closed is replaced once.
    for attempt in (1, 2):
        conn = getattr(_local, "conn", None) or _new_connection()
        _local.conn = conn
        try:
            conn.request(method, path, body=payload, headers=headers)
            return conn.getresponse()
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            conn.close()
            _local.conn = None
            if attempt == 2:
                raise ModelServiceUnavailable(exc) from exc
    raise AssertionError("unreachable")


def _raise(response: http.client.HTTPResponse) -> None:
    raw = response.read()
    try:
        error = json.loads(raw)["error"]
        message, code = error.get("message", ""), error.get("code")
    except (ValueError, KeyError, TypeError):
        message, code = raw.decode(errors="replace") or response.reason, None
    raise GatewayError(response.status, message, code)


def _json(method: str, path: str, body: Any = None) -> Any:
    return json.loads(_request(method, path, body).read())


def models() -> list[dict[str, Any]]:
    """The models you may use, each with its kind, license and openness."""
    return list(_json("GET", "/v1/models")["data"])


def _floats(encoded: str) -> list[float]:
    values = array.array("f")
    values.frombytes(base64.b64decode(encoded))
    if sys.byteorder == "big":
        values.byteswap()  # the gateway sends little-endian float32
    return values.tolist()


def embed(texts: str | Sequence[str], *, model: str = DEFAULT_EMBEDDING_MODEL) -> Any:
    """One vector (a list of floats) for a string, or a list of vectors for a list of strings."""
    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    body = {"model": model, "input": batch, "encoding_format": "base64"}
    rows = sorted(_json("POST", "/v1/embeddings", body)["data"], key=lambda row: row["index"])
    vectors = [_floats(row["embedding"]) for row in rows]
    return vectors[0] if single else vectors


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _stream(response: http.client.HTTPResponse) -> Iterator[str]:
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        event = json.loads(data)
        if "error" in event:
            raise GatewayError(500, event["error"].get("message", ""), event["error"].get("code"))
        for choice in event.get("choices", []):
            piece = (choice.get("delta") or {}).get("content") or choice.get("text")
            if piece:
                yield piece


def _options(
    model: str,
    max_tokens: int | None,
    temperature: float | None,
    seed: int | None,
    stop: str | list[str] | None,
    schema: dict[str, Any] | None,
    stream: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "stream": stream}
    given = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed, "stop": stop}
    body.update({key: value for key, value in given.items() if value is not None})
    if schema is not None:
        spec = {"name": "answer", "schema": schema, "strict": True}
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    return body


def chat(
    messages: str | list[dict[str, str]],
    *,
    model: str = DEFAULT_CHAT_MODEL,
    max_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    stop: str | list[str] | None = None,
    schema: dict[str, Any] | None = None,
    stream: bool = False,
) -> Any:
    """The model's reply as a string, or with stream=True an iterator of pieces of it.

    `temperature=0` decodes greedily: the same request gives the same reply every time.
    `schema` (a JSON schema) constrains the reply to JSON that matches it.
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    body = _options(model, max_tokens, temperature, seed, stop, schema, stream)
    response = _request("POST", "/v1/chat/completions", body | {"messages": messages})
    if stream:
        return _stream(response)
    return json.loads(response.read())["choices"][0]["message"]["content"]


def complete(
    prompt: str,
    *,
    model: str = DEFAULT_CHAT_MODEL,
    max_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    stop: str | list[str] | None = None,
    stream: bool = False,
) -> Any:
    """The text the model writes after `prompt` (no chat template), or an iterator of pieces."""
    body = _options(model, max_tokens, temperature, seed, stop, None, stream)
    response = _request("POST", "/v1/completions", body | {"prompt": prompt})
    if stream:
        return _stream(response)
    return json.loads(response.read())["choices"][0]["text"]


def _httpx() -> Any:
    try:
        return importlib.import_module("httpx2")  # what recent openai releases use
    except ImportError:
        return importlib.import_module("httpx")


def _openai_settings() -> dict[str, Any]:
    if URL:
        return {"base_url": URL.rstrip("/") + "/v1/", "api_key": API_KEY or "none"}
    transport = _httpx().HTTPTransport(uds=SOCKET)
    # No key is needed on the socket: the gateway knows the caller. The client insists on one.
    return {
        "base_url": "http://gateway/v1/",
        "api_key": "sandbox",
        "http_client": _httpx().Client(transport=transport, timeout=TIMEOUT_S),
    }


def OpenAI(**overrides: Any) -> Any:
    """An `openai.OpenAI` client talking to the platform's gateway."""
    import openai

    return openai.OpenAI(**{**_openai_settings(), **overrides})


def _configure(openai: ModuleType) -> None:
    for name, value in _openai_settings().items():
        setattr(openai, name, value)


def configure_openai() -> bool:
    """Point the `openai` package's module-level client at the gateway; False if not installed."""
    try:
        import openai
    except ImportError:
        return False
    _configure(openai)
    return True


class _ConfigureOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Configures `openai` when notebook code first imports it. Importing it here instead
    would cost every notebook that imports this module most of a second."""

    def __init__(self) -> None:
        self.loader: Any = None

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "openai" or self not in sys.meta_path:
            return None
        sys.meta_path.remove(self)  # once, and so that find_spec finds the real one
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__.loader = module.__loader__ = self.loader  # type: ignore[union-attr]
        self.loader.exec_module(module)
        _configure(module)


if "openai" in sys.modules:
    _configure(sys.modules["openai"])
else:
    sys.meta_path.insert(0, _ConfigureOnImport())
