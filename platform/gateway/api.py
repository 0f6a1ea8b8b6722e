"""The OpenAI-compatible API, independent of how bytes arrive (see gateway.httpserver).

GET /v1/models, POST /v1/embeddings, POST /v1/chat/completions and POST /v1/completions
(streaming as server-sent events in OpenAI's chunk format). Errors use OpenAI's error shape.
"""

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections
from redis.asyncio import Redis

from gateway import parsing as parse
from gateway import streaming
from gateway.backends import CardInfo, Completion, Emit, Registry
from gateway.errors import ApiError, bad_request, model_not_found, unauthorized
from gateway.identity import (
    Identity,
    identity_from_peer,
    identity_from_session,
    identity_from_token,
)
from gateway.limits import limits_check, usage_record
from gateway.models import ModelCard, ModelKind
from gateway.selectors import models_for

log = logging.getLogger(__name__)
T = TypeVar("T")
CACHE_S = 10.0  # catalog and token look-ups are cached this long: revocations take as long
CACHE_MAX = 10_000  # entries before the expired ones are dropped


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    peer_uid: int | None  # set for the unix socket, None for TCP


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: AsyncIterator[bytes] | None = None


def json_response(status: int, data: Any) -> Response:
    return Response(status, json.dumps(data).encode(), [("Content-Type", "application/json")])


def error_response(error: ApiError) -> Response:
    headers = [("Content-Type", "application/json"), *error.headers.items()]
    return Response(error.status, error.body(), headers)


def _listing(card: ModelCard) -> dict[str, Any]:
    return {
        "id": card.name,
        "object": "model",
        "created": int(card.created_at.timestamp()),
        "owned_by": "open-science-training",
        "kind": card.kind,
        "display_name": card.display_name,
        "license": card.license,
        "license_url": card.license_url,
        "openness": card.openness,
        "weights_open": card.weights_open,
        "training_data_open": card.training_data_open,
        "training_code_open": card.training_code_open,
        "engine_version": card.engine_version or None,
        "model_sha256": card.model_sha256 or None,
    }


def card_info(card: ModelCard) -> CardInfo:
    """What the API needs of a catalog entry, detached from the ORM."""
    return CardInfo(
        card.name,
        card.kind,
        card.backend,
        card.location,
        _listing(card),
        model_sha256=card.model_sha256,
        engine_version=card.engine_version,
    )


def _allowed_cards(identity: Identity) -> dict[str, CardInfo]:
    cards = models_for(
        user_id=identity.user_id, course_id=identity.course_id, is_staff=identity.is_staff
    )
    return {c.name: card_info(c) for c in cards}


class Gateway:
    def __init__(
        self, *, registry: Registry, redis: Redis, clock: Callable[[], float] = time.time
    ) -> None:
        self.registry = registry
        self.redis = redis
        # Quota days and rate-limit minutes are read on this clock (tests pin it).
        self.clock = clock
        # The ORM blocks: one thread for it. Models run in their own threads, enough for
        # every request the engines admit (they mostly wait on a socket): a request beyond
        # that must reach the engine's admission check and get its 503, not queue here.
        self.db = ThreadPoolExecutor(1, thread_name_prefix="gateway-db")
        self.inference = ThreadPoolExecutor(64, thread_name_prefix="gateway-model")
        self._cache: dict[Any, tuple[float, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def close(self) -> None:
        self.db.shutdown(wait=True)
        self.inference.shutdown(wait=False, cancel_futures=True)

    async def in_db(self, fn: Callable[..., T], *args: Any) -> T:
        def call() -> T:
            close_old_connections()  # the thread lives long: drop connections past their age
            return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(self.db, call)

    async def _cached(self, key: Any, fn: Callable[..., T], *args: Any) -> T:
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        value = await self.in_db(fn, *args)
        now = time.monotonic()
        if len(self._cache) > CACHE_MAX:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + CACHE_S, value)
        return value

    async def handle(self, request: Request) -> Response:
        routes = {
            ("GET", "/v1/models"): self.list_models,
            ("POST", "/v1/embeddings"): self.embeddings,
            ("POST", "/v1/chat/completions"): self.chat_completions,
            ("POST", "/v1/completions"): self.completions,
        }
        path = request.path.split("?", 1)[0].rstrip("/")
        if (request.method, path) == ("GET", "/healthz"):
            return json_response(200, {"status": "ok"})
        route = routes.get((request.method, path))
        try:
            if route is None:
                raise ApiError(
                    404, f"No route {request.method} {path}.", type_="invalid_request_error"
                )
            return await route(request, await self.identify(request))
        except ApiError as error:
            return error_response(error)
        except Exception:
            log.exception("Gateway error on %s %s", request.method, path)
            return error_response(
                ApiError(500, "Internal error in the model gateway.", type_="server_error")
            )

    async def identify(self, request: Request) -> Identity:
        if request.peer_uid is not None:
            return await identity_from_peer(self.redis, uid=request.peer_uid)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
            return await self._cached(("token", token), identity_from_token, token)
        cookie = SimpleCookie(request.headers.get("cookie", ""))
        session = cookie.get(settings.SESSION_COOKIE_NAME)
        if session is None:
            raise unauthorized("Send a personal API token: `Authorization: Bearer <token>`.")
        if request.method == "POST" and not request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            # A JSON content type makes a cross-site page's request need CORS, which we never
            # grant: a foreign page cannot spend a logged-in person's quota.
            raise bad_request("Send the body as application/json.")
        return await self._cached(("session", session.value), identity_from_session, session.value)

    async def card(self, identity: Identity, name: str, kind: str) -> CardInfo:
        cards = await self._cached(("cards", identity), _allowed_cards, identity)
        card = cards.get(name)
        if card is None:
            raise model_not_found(name)
        if card.kind != kind:
            raise bad_request(f"The model {name!r} is a {card.kind} model.", param="model")
        return card

    async def list_models(self, request: Request, identity: Identity) -> Response:
        cards = await self._cached(("cards", identity), _allowed_cards, identity)
        return json_response(200, {"object": "list", "data": [c.listing for c in cards.values()]})

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.inference, fn, *args)

    async def embeddings(self, request: Request, identity: Identity) -> Response:
        req = parse.embedding_request(parse.json_body(request.body))
        card = await self.card(identity, req.model, ModelKind.EMBEDDING)
        await limits_check(
            self.redis,
            user_id=identity.user_id,
            now=self.clock(),
            quota_key=identity.quota_key,
            quota_limit=identity.quota_limit,
            personal_quotas=identity.personal_quotas,
        )
        result = await self.run(lambda: self.registry.get(card).embed(req.texts))
        await self._record(identity, card, result.prompt_tokens, 0)
        if req.encoding_format == "base64":
            rows: list[Any] = [
                base64.b64encode(v.astype("<f4").tobytes()).decode() for v in result.vectors
            ]
        else:
            rows = result.vectors.tolist()
        data = [{"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(rows)]
        usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
        return json_response(
            200, {"object": "list", "data": data, "model": card.name, "usage": usage}
        )

    async def _record(
        self, identity: Identity, card: CardInfo, prompt: int, completion: int
    ) -> None:
        await usage_record(
            self.redis,
            user_id=identity.user_id,
            course_id=identity.course_id,
            model=card.name,
            prompt_tokens=prompt,
            completion_tokens=completion,
            now=self.clock(),
            quota_key=identity.quota_key,
            personal_quotas=identity.personal_quotas,
        )

    async def chat_completions(self, request: Request, identity: Identity) -> Response:
        return await self._generate(request, identity, streaming.CHAT)

    async def completions(self, request: Request, identity: Identity) -> Response:
        return await self._generate(request, identity, streaming.COMPLETION)

    async def _generate(
        self, request: Request, identity: Identity, shape: streaming.Shape
    ) -> Response:
        data = parse.json_body(request.body)
        card = await self.card(identity, parse.model_name(data), ModelKind.CHAT)
        tokens_left = await limits_check(
            self.redis,
            user_id=identity.user_id,
            now=self.clock(),
            quota_key=identity.quota_key,
            quota_limit=identity.quota_limit,
            personal_quotas=identity.personal_quotas,
        )
        req = parse.generation_request(data, tokens_left=tokens_left, chat=shape.chat)
        backend = await self.run(self.registry.get, card)

        def generate(emit: Emit | None) -> Completion:
            if req.prompt is not None:
                return backend.complete(req.prompt, req.params, emit)
            return backend.chat(req.messages, req.params, emit)

        cid = f"{shape.id_prefix}{uuid.uuid4().hex}"
        if req.stream:
            return await self._stream(identity, card, generate, req, shape, cid)
        done = await self.run(generate, None)
        await self._record(identity, card, done.prompt_tokens, done.completion_tokens)
        return json_response(200, streaming.whole(shape, cid, card.name, done))

    async def _stream(
        self,
        identity: Identity,
        card: CardInfo,
        generate: Callable[[Emit | None], Completion],
        req: parse.GenerationRequest,
        shape: streaming.Shape,
        cid: str,
    ) -> Response:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def emit(piece: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        def charge(done: Completion) -> None:
            # Charged when generation ends, whether or not the caller is still reading.
            task = loop.create_task(
                self._record(identity, card, done.prompt_tokens, done.completion_tokens)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        def run() -> None:
            try:
                result: Any = generate(emit)
                loop.call_soon_threadsafe(charge, result)
            except Exception as error:  # handed to the event loop, which answers with it
                result = error
            loop.call_soon_threadsafe(queue.put_nowait, result)

        loop.run_in_executor(self.inference, run)
        first = await queue.get()
        if isinstance(first, Exception):
            # Nothing sent yet: the caller gets a real status (503 for a dead upstream).
            raise first
        chunks = streaming.events(
            shape, cid, card.name, first, queue, include_usage=req.include_usage
        )
        headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
        return Response(200, headers=headers, stream=chunks)
