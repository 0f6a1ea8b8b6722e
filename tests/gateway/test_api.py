"""The OpenAI-compatible API through the socket: embeddings, chat, and the errors it gives."""

import json
import math
import os
import time

import pytest

from gateway.models import BackendKind, ModelCard
from gateway.services import grant_register
from tests.support.factories import CourseFactory, UserFactory
from tests.support.gateway import MINILM, chat_card, minilm_card, tokens_used_today

pytestmark = pytest.mark.xdist_group("gateway-models")


@pytest.fixture
def learner(gateway):
    """A learner whose run is active in a course: the test process's uid is granted."""
    user, course = UserFactory(), CourseFactory()
    grant_register(uid=os.getuid(), user_id=user.id, course_id=course.id, ttl_s=60)
    return user, course


def embed(gateway, texts, **extra):
    return gateway.call("POST", "/v1/embeddings", {"model": MINILM, "input": texts} | extra)


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)


def test_embeddings_come_from_the_real_minilm_similar_sentences_are_closer(gateway, learner):
    status, body = embed(
        gateway,
        [
            "The enzyme speeds up the chemical reaction in the cell.",
            "This protein catalyses a biochemical reaction inside cells.",
            "The football match ended in a draw after extra time.",
        ],
    )
    assert status == 200
    vectors = [row["embedding"] for row in body["data"]]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert cosine(vectors[0], vectors[1]) > 0.5 > cosine(vectors[0], vectors[2])
    assert body["usage"]["prompt_tokens"] > 20
    assert tokens_used_today(learner[0].id) == body["usage"]["prompt_tokens"]


def test_base64_embeddings_are_the_same_little_endian_floats(gateway, learner):
    import base64

    import numpy as np

    _, as_floats = embed(gateway, "Galaxies collide.")
    _, as_base64 = embed(gateway, "Galaxies collide.", encoding_format="base64")
    decoded = np.frombuffer(base64.b64decode(as_base64["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, as_floats["data"][0]["embedding"])


def test_models_lists_licenses_and_openness(gateway, learner):
    status, body = gateway.call("GET", "/v1/models")
    assert status == 200
    (listed,) = body["data"]
    assert listed["id"] == MINILM and listed["license"] == "Apache-2.0"
    assert listed["openness"] == "open_source"


def test_an_unknown_model_is_a_404_in_openais_error_shape(gateway, learner):
    status, body = gateway.call("POST", "/v1/embeddings", {"model": "gpt-5", "input": "hi"})
    assert status == 404
    assert body["error"]["code"] == "model_not_found"
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_a_model_not_enabled_in_the_runs_course_is_a_404(gateway, learner):
    # given MiniLM enabled in another course only
    minilm_card(all_courses=False).courses.add(CourseFactory())
    status, _ = embed(gateway, "hello")
    assert status == 404


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{not json", None),
        (json.dumps({"model": MINILM}).encode(), "input"),
        (json.dumps({"model": MINILM, "input": [1, 2, 3]}).encode(), "input"),
        (
            json.dumps({"model": MINILM, "input": "x", "encoding_format": "int8"}).encode(),
            "encoding_format",
        ),
        (json.dumps({"input": "x"}).encode(), "model"),
    ],
)
def test_bad_requests_are_400_saying_which_parameter(gateway, learner, raw, param):
    status, body = gateway.call("POST", "/v1/embeddings", raw=raw)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param


def test_too_many_inputs_is_a_400(gateway, learner, settings):
    settings.GATEWAY_MAX_INPUTS = 3
    status, body = embed(gateway, ["a", "b", "c", "d"])
    assert status == 400 and "At most 3" in body["error"]["message"]


def test_an_unknown_route_is_a_404(gateway, learner):
    status, body = gateway.call("GET", "/v1/files")
    assert status == 404 and "error" in body


def test_over_the_daily_token_quota_is_a_429(gateway, learner, settings):
    settings.GATEWAY_DAILY_TOKENS = 10
    first, _ = embed(gateway, "A sentence long enough to use more than ten tokens of the quota.")
    second, body = embed(gateway, "again")
    assert (first, second) == (200, 429)
    assert body["error"]["code"] == "insufficient_quota"


def test_over_the_request_rate_is_a_429_with_retry_after(gateway, learner, settings):
    settings.GATEWAY_REQUESTS_PER_MINUTE = 2  # the gateway's clock is 30 s into a minute
    statuses = [embed(gateway, "hi")[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    conn = gateway.connection("socket")
    conn.request("POST", "/v1/embeddings", json.dumps({"model": MINILM, "input": "x"}))
    response = conn.getresponse()
    assert response.status == 429
    assert response.getheader("Retry-After") == "30"
    assert json.loads(response.read())["error"]["code"] == "rate_limit_exceeded"


@pytest.fixture
def tiny_chat(gateway, tiny_lm_dir):
    return chat_card("tiny-gpt2", backend=BackendKind.HF_CAUSAL, location=str(tiny_lm_dir))


def test_chat_with_a_local_causal_model_counts_tokens(gateway, learner, tiny_chat):
    request = {
        "model": "tiny-gpt2",
        "messages": [{"role": "user", "content": "the model"}],
        "max_tokens": 5,
        "temperature": 0,
    }
    status, body = gateway.call("POST", "/v1/chat/completions", request)
    assert status == 200
    assert body["object"] == "chat.completion"
    assert len(body["choices"][0]["message"]["content"].split()) == 5
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5


def test_streaming_chat_sends_openai_chunks_that_add_up_to_the_reply(gateway, learner, tiny_chat):
    request = {
        "model": "tiny-gpt2",
        "messages": [{"role": "user", "content": "open science"}],
        "max_tokens": 6,
        "temperature": 0,
    }
    _, whole = gateway.call("POST", "/v1/chat/completions", request)
    conn = gateway.connection("socket")
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps(request | {"stream": True, "stream_options": {"include_usage": True}}),
    )
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    events = [
        line[6:] for line in response.read().decode().split("\n\n") if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert len([p for p in pieces if p]) >= 2
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"]["completion_tokens"] == 6


def test_an_embedding_model_is_not_a_chat_model(gateway, learner):
    status, body = gateway.call(
        "POST",
        "/v1/chat/completions",
        {"model": MINILM, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert status == 400 and body["error"]["param"] == "model"


def test_the_catalog_says_how_open_each_model_is(db):
    card = ModelCard(license="Llama", weights_open=True)
    assert card.openness == "open_weights"
    card.training_code_open = True
    assert card.openness == "partly_open"


def test_a_stream_the_caller_abandons_is_still_charged(gateway, learner, tiny_chat):
    request = {
        "model": "tiny-gpt2",
        "messages": [{"role": "user", "content": "star"}],
        "max_tokens": 40,
        "temperature": 0,
        "stream": True,
    }
    conn = gateway.connection("socket")
    conn.request("POST", "/v1/chat/completions", json.dumps(request))
    conn.getresponse().readline()
    conn.close()
    deadline = time.monotonic() + 300  # charged once the server notices: wait for it
    while tokens_used_today(learner[0].id) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tokens_used_today(learner[0].id) >= 40


def test_a_client_expecting_100_continue_is_answered(gateway, learner):
    conn = gateway.connection("socket")
    body = json.dumps({"model": MINILM, "input": "x" * 2000}).encode()
    conn.putrequest("POST", "/v1/embeddings")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(body)))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    assert conn.sock.recv(100).startswith(b"HTTP/1.1 100")
    conn.send(body)
    assert conn.getresponse().status == 200
