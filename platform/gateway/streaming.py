"""The bodies of generation responses in OpenAI's shapes: chat completions and text
completions, whole or as server-sent events (chunks, then the usage, then [DONE])."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway.backends import Completion
from gateway.errors import ApiError


@dataclass(frozen=True)
class Shape:
    """Chat (`messages` in, a message out) or text completion (`prompt` in, text out)."""

    chat: bool

    @property
    def id_prefix(self) -> str:
        return "chatcmpl-" if self.chat else "cmpl-"

    @property
    def object(self) -> str:
        return "chat.completion" if self.chat else "text_completion"

    @property
    def chunk_object(self) -> str:
        return "chat.completion.chunk" if self.chat else "text_completion"

    def choice(self, text: str | None, finish: str | None, *, whole: bool) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
        if not self.chat:
            return choice | {"text": text or ""}
        if whole:
            return choice | {"message": {"role": "assistant", "content": text}}
        return choice | {"delta": {} if text is None else {"content": text}}


CHAT = Shape(chat=True)
COMPLETION = Shape(chat=False)


def usage(done: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
    }


def whole(shape: Shape, cid: str, model: str, done: Completion) -> dict[str, Any]:
    return {
        "id": cid,
        "object": shape.object,
        "created": int(time.time()),
        "model": model,
        "choices": [shape.choice(done.text, done.finish_reason, whole=True)],
        "usage": usage(done),
    }


def _event(data: Any) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _chunk(shape: Shape, cid: str, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": cid,
        "object": shape.chunk_object,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }


async def events(
    shape: Shape,
    cid: str,
    model: str,
    item: Any,
    queue: "asyncio.Queue[Any]",
    *,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """The stream: `item` is the first piece; then pieces (str) from `queue` until the
    Completion (or an exception) that ends it."""
    if shape.chat:
        start = shape.choice(None, None, whole=False) | {
            "delta": {"role": "assistant", "content": ""}
        }
        yield _event(_chunk(shape, cid, model, [start]))
    while isinstance(item, str):
        yield _event(_chunk(shape, cid, model, [shape.choice(item, None, whole=False)]))
        item = await queue.get()
    if isinstance(item, Exception):
        error = (
            item
            if isinstance(item, ApiError)
            else ApiError(500, "Generation failed.", type_="server_error")
        )
        yield b"data: " + error.body() + b"\n\n"
        return
    end = shape.choice(None if shape.chat else "", item.finish_reason, whole=False)
    yield _event(_chunk(shape, cid, model, [end]))
    if include_usage:
        yield _event(_chunk(shape, cid, model, []) | {"usage": usage(item)})
    yield b"data: [DONE]\n\n"
