"""Parsing and checking API request bodies; every problem is a 400 that says what to fix."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from campus.payloads import JsonTooDeep, json_loads_bounded
from gateway.backends import ChatParams, Message
from gateway.errors import bad_request

ROLES = {"system", "developer", "user", "assistant", "tool"}


def json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json_loads_bounded(body or b"null")
    except JsonTooDeep as error:
        raise bad_request(f"The request body is not accepted: {error}.") from None
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def model_name(data: dict[str, Any]) -> str:
    name = data.get("model")
    if not isinstance(name, str) or not name:
        raise bad_request(
            "`model` is required: the name of a model from GET /v1/models.", param="model"
        )
    return name


@dataclass(frozen=True)
class EmbeddingRequest:
    model: str
    texts: list[str]
    encoding_format: str


def embedding_request(data: dict[str, Any]) -> EmbeddingRequest:
    texts = data.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise bad_request(
            "`input` must be a non-empty string or a non-empty list of strings "
            "(token arrays are not accepted).",
            param="input",
        )
    if len(texts) > settings.GATEWAY_MAX_INPUTS:
        raise bad_request(
            f"At most {settings.GATEWAY_MAX_INPUTS} inputs per request; split the batch.",
            param="input",
        )
    fmt = data.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise bad_request("`encoding_format` must be 'float' or 'base64'.", param="encoding_format")
    return EmbeddingRequest(model=model_name(data), texts=texts, encoding_format=fmt)


@dataclass(frozen=True)
class GenerationRequest:
    """A chat request (`messages`) or a text completion request (`prompt`)."""

    model: str
    messages: list[Message]
    prompt: str | None
    params: ChatParams
    stream: bool
    include_usage: bool


def _content(message: Any, index: int) -> Message:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise bad_request(
            f"messages[{index}] must be an object with a role ({', '.join(sorted(ROLES))}).",
            param="messages",
        )
    content = message.get("content")
    if isinstance(content, list):  # content parts: only text is supported by these models
        if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
            raise bad_request(f"messages[{index}]: only text content is supported.")
        content = "".join(str(p.get("text", "")) for p in content)
    if not isinstance(content, str):
        raise bad_request(f"messages[{index}].content must be a string.", param="messages")
    return {"role": str(message["role"]), "content": content}


def _number(data: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_request(f"`{key}` must be a number from {low} to {high}.", param=key)
    return float(value)


def _max_tokens(data: dict[str, Any], tokens_left: int) -> int:
    limit = settings.GATEWAY_MAX_COMPLETION_TOKENS
    value = data.get("max_completion_tokens", data.get("max_tokens"))
    if value is None:
        value = limit
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request("`max_tokens` must be a whole number of at least 1.", param="max_tokens")
    return max(1, min(value, limit, tokens_left))


def _stop(data: dict[str, Any]) -> tuple[str, ...]:
    stop = data.get("stop")
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise bad_request("`stop` must be a string or a list of strings.", param="stop")
    return tuple(stops)


RESPONSE_TYPES = ("text", "json_object", "json_schema")


def _response_format(data: dict[str, Any]) -> dict[str, Any] | None:
    value = data.get("response_format")
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in RESPONSE_TYPES:
        raise bad_request(
            "`response_format` must be an object whose `type` is 'text', 'json_object' or "
            "'json_schema'.",
            param="response_format",
        )
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise bad_request(
                "`response_format.json_schema.schema` must be a JSON schema object, e.g. "
                '{"type": "json_schema", "json_schema": {"name": "answer", "schema": {...}}}.',
                param="response_format",
            )
    return None if kind == "text" else value


def _prompt(data: dict[str, Any]) -> str:
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise bad_request(
            "`prompt` must be a non-empty string (token arrays and batches are not accepted).",
            param="prompt",
        )
    return prompt


def generation_request(
    data: dict[str, Any], *, tokens_left: int, chat: bool = True
) -> GenerationRequest:
    """A /v1/chat/completions body (`chat`) or a /v1/completions body, checked."""
    messages: list[Message] = []
    prompt = None
    if chat:
        raw = data.get("messages")
        if not isinstance(raw, list) or not raw:
            raise bad_request("`messages` must be a non-empty list.", param="messages")
        messages = [_content(m, i) for i, m in enumerate(raw)]
    else:
        prompt = _prompt(data)
    if data.get("n", 1) != 1:
        raise bad_request("Only one choice per request is supported (`n` = 1).", param="n")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad_request("`seed` must be a whole number.", param="seed")
    options = data.get("stream_options") or {}
    params = ChatParams(
        max_tokens=_max_tokens(data, tokens_left),
        temperature=_number(data, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(data, "top_p", 1.0, 0.0, 1.0) or 1.0,
        stop=_stop(data),
        seed=seed,
        response_format=_response_format(data),
    )
    return GenerationRequest(
        model=model_name(data),
        messages=messages,
        prompt=prompt,
        params=params,
        stream=bool(data.get("stream", False)),
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
    )
