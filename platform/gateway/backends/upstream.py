"""Any OpenAI-compatible server reached over HTTP: vLLM, Ollama, TGI or llama.cpp's server
run by a university (`GATEWAY_UPSTREAM_URL`), and the gateway's own llama.cpp engine on
its private unix socket (gateway.backends.llamacpp)."""

import http.client
import json
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gateway.backends.base import ChatParams, Completion, Embeddings, Emit, Message
from gateway.errors import ApiError, bad_request, upstream_unavailable

# The text of one choice: a chat message or delta, or a completion's text.
Pick = Callable[[dict[str, Any]], str | None]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self.socket_path))
        self.sock = sock


class UpstreamBackend:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float,
        unix_socket: Path | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url.rstrip("/"))
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, parts.path
        self.api_key = api_key
        self.model = model
        self.timeout_s = timeout_s
        self.unix_socket = unix_socket

    def _connection(self) -> http.client.HTTPConnection:
        if self.unix_socket is not None:
            return _UnixConnection(self.unix_socket, self.timeout_s)
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.netloc, timeout=self.timeout_s)
        return http.client.HTTPConnection(self.netloc, timeout=self.timeout_s)

    def _post(self, path: str, payload: dict[str, Any]) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        conn = self._connection()
        try:
            conn.request("POST", self.prefix + path, json.dumps(payload).encode(), headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            raise upstream_unavailable(
                f"The model server for {self.model!r} is unreachable ({error}). "
                "Try again later; if it lasts, tell your instructor."
            ) from None
        if response.status >= 400:
            refusal = self._error(response)
            conn.close()
            raise refusal
        return response

    def _error(self, response: http.client.HTTPResponse) -> ApiError:
        raw = response.read()
        try:
            message = json.loads(raw)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = raw.decode(errors="replace")[:500] or response.reason
        status = response.status
        if status >= 500 or status in (401, 403, 429):
            # Our credentials, their load or their server: not something the caller can fix.
            error = upstream_unavailable(f"The model server answered {status}: {message}")
            if retry_after := response.getheader("Retry-After"):
                error.headers["Retry-After"] = retry_after
            return error
        return bad_request(f"The model server refused the request: {message}")

    def embed(self, texts: list[str]) -> Embeddings:
        payload = {"model": self.model, "input": texts, "encoding_format": "float"}
        with self._post("/embeddings", payload) as response:
            body = json.loads(response.read())
        rows = sorted(body["data"], key=lambda item: item["index"])
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        tokens = int(body.get("usage", {}).get("prompt_tokens", 0))
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    def _payload(self, params: ChatParams, stream: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": stream,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.seed is not None:
            payload["seed"] = params.seed
        if params.response_format is not None:
            payload["response_format"] = params.response_format
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def chat(self, messages: list[Message], params: ChatParams, emit: Emit | None) -> Completion:
        payload = {**self._payload(params, emit is not None), "messages": messages}
        return self._generate("/chat/completions", payload, emit, _chat_text)

    def complete(self, prompt: str, params: ChatParams, emit: Emit | None) -> Completion:
        payload = {**self._payload(params, emit is not None), "prompt": prompt}
        return self._generate("/completions", payload, emit, _completion_text)

    def _generate(
        self, path: str, payload: dict[str, Any], emit: Emit | None, pick: Pick
    ) -> Completion:
        if emit is None:
            with self._post(path, payload) as response:
                body = json.loads(response.read())
            choice = body["choices"][0]
            usage = body.get("usage") or {}
            return Completion(
                text=pick(choice) or "",
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                finish_reason=choice.get("finish_reason") or "stop",
            )
        text: list[str] = []
        finish = "stop"
        usage = {}
        with self._post(path, payload) as response:
            for chunk in _sse_events(response):
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices", []):
                    if piece := pick(choice):
                        text.append(piece)
                        emit(piece)
                    finish = choice.get("finish_reason") or finish
        return Completion(
            text="".join(text),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", len(text))),
            finish_reason=finish,
        )


def _chat_text(choice: dict[str, Any]) -> str | None:
    message = choice.get("message") or choice.get("delta") or {}
    return message.get("content")


def _completion_text(choice: dict[str, Any]) -> str | None:
    return choice.get("text")


def _sse_events(response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        event = json.loads(data)
        if "error" in event:
            error = event["error"]
            message = error.get("message", "") if isinstance(error, dict) else str(error)
            raise upstream_unavailable(f"The model server failed while generating: {message}")
        yield event
