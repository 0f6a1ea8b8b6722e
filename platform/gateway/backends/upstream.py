"""Any OpenAI-compatible server (vLLM, Ollama, TGI) reached over HTTP."""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPResponse
from typing import Any

import numpy as np

from gateway.backends.base import ChatParams, Completion, Embeddings, Emit, Message
from gateway.errors import ApiError, bad_request, upstream_unavailable


class UpstreamBackend:
    def __init__(self, *, base_url: str, api_key: str, model: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout_s = timeout_s

    def _post(self, path: str, payload: dict[str, Any]) -> HTTPResponse:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(  # noqa: S310 (an http(s) URL from the settings)
            self.base_url + path, data=json.dumps(payload).encode(), headers=headers
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout_s)  # noqa: S310
        except urllib.error.HTTPError as error:
            raise self._error(error) from None
        except (OSError, urllib.error.URLError) as error:
            raise upstream_unavailable(
                f"The model server for {self.model!r} is unreachable ({error}). "
                "Try again later; if it lasts, tell your instructor."
            ) from None

    def _error(self, error: urllib.error.HTTPError) -> ApiError:
        try:
            message = json.loads(error.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = error.reason
        if error.code >= 500 or error.code in (401, 403):
            # Our credentials or their server: not something the caller can fix.
            return upstream_unavailable(f"The model server answered {error.code}: {message}")
        return bad_request(f"The model server refused the request: {message}")

    def embed(self, texts: list[str]) -> Embeddings:
        payload = {"model": self.model, "input": texts, "encoding_format": "float"}
        with self._post("/embeddings", payload) as response:
            body = json.loads(response.read())
        rows = sorted(body["data"], key=lambda item: item["index"])
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        tokens = int(body.get("usage", {}).get("prompt_tokens", 0))
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    def _payload(self, messages: list[Message], params: ChatParams, stream: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": stream,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.seed is not None:
            payload["seed"] = params.seed
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def chat(self, messages: list[Message], params: ChatParams, emit: Emit | None) -> Completion:
        if emit is None:
            with self._post("/chat/completions", self._payload(messages, params, False)) as r:
                body = json.loads(r.read())
            choice = body["choices"][0]
            usage = body.get("usage") or {}
            return Completion(
                text=choice["message"].get("content") or "",
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                finish_reason=choice.get("finish_reason") or "stop",
            )
        return self._stream(messages, params, emit)

    def _stream(self, messages: list[Message], params: ChatParams, emit: Emit) -> Completion:
        text: list[str] = []
        finish = "stop"
        usage: dict[str, Any] = {}
        with self._post("/chat/completions", self._payload(messages, params, True)) as response:
            for chunk in _sse_events(response):
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices", []):
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        text.append(piece)
                        emit(piece)
                    finish = choice.get("finish_reason") or finish
        return Completion(
            text="".join(text),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", len(text))),
            finish_reason=finish,
        )


def _sse_events(response: HTTPResponse) -> Iterator[dict[str, Any]]:
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        yield json.loads(data)
